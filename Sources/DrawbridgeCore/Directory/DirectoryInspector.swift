import Logging
import PostgresNIO

/// Checks that the directory mapping fits the platform's real table, for `drawbridge check` and start-up.
public struct DirectoryInspector: Sendable {
    public let settings: DirectorySettings
    /// The platform-session query runs on the same read-only connection, so it is checked here too.
    public let platformSession: PlatformSessionSettings?
    public let logger: Logger

    public init(settings: DirectorySettings, platformSession: PlatformSessionSettings? = nil, logger: Logger) {
        self.settings = settings
        self.platformSession = platformSession
        self.logger = logger
    }

    /// Every mismatch between config and database, phrased for the operator; empty when all is well.
    public func problems() async -> [ConfigurationError] {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: settings.url.connectionConfiguration(readOnly: true), id: 1, logger: logger)
        } catch {
            return [ConfigurationError("cannot connect to \(settings.url): \(PostgresErrorText.describe(error))", key: "directory.url")]
        }
        var problems: [ConfigurationError]
        switch settings.source {
        case .table(let table, let columns):
            problems = await tableProblems(connection, table: table, columns: columns)
        case .lookupQuery(let sql):
            problems = await lookupQueryProblems(connection, sql: sql)
        }
        if let platformSession { problems += await platformSessionProblems(connection, query: platformSession.query) }
        try? await connection.close()
        return problems
    }

    private func lookupQueryProblems(_ connection: PostgresConnection, sql: String) async -> [ConfigurationError] {
        do {
            var bindings = PostgresBindings()
            bindings.append("")
            _ = try await connection.query(PostgresQuery(unsafeSQL: "SELECT * FROM (\(sql)) AS drawbridge_check LIMIT 0", binds: bindings), logger: logger).collect()
            return []
        } catch {
            return [ConfigurationError("the query fails: \(PostgresErrorText.describe(error))", key: "directory.lookup_query")]
        }
    }

    /// The query must run, and with a lookup_query directory it must also return the login (second column):
    /// such a directory can only find a user by login. A RIGHT JOIN on one row yields one row of NULLs
    /// whatever the query matches, so its columns can be counted without knowing a real cookie.
    private func platformSessionProblems(_ connection: PostgresConnection, query: String) async -> [ConfigurationError] {
        do {
            var bindings = PostgresBindings()
            bindings.append("drawbridge-start-up-check")
            let sql = "SELECT s.*, true AS drawbridge_check FROM (SELECT * FROM (\(query)) AS q LIMIT 0) AS s RIGHT JOIN (SELECT 1) AS one ON true"
            var columns = 0
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) {
                columns = Array(row).count - 1
            }
            if case .lookupQuery = settings.source, columns < 2 {
                return [ConfigurationError("returns \(columns) column(s); with directory.lookup_query it must return the user id and then the login", key: "platform_session.query")]
            }
            return columns < 1 ? [ConfigurationError("returns no column; it must return the user id", key: "platform_session.query")] : []
        } catch {
            return [ConfigurationError("the query fails: \(PostgresErrorText.describe(error))", key: "platform_session.query")]
        }
    }

    private func tableProblems(_ connection: PostgresConnection, table: TableReference, columns: ColumnMapping) async -> [ConfigurationError] {
        var found: [String: String] = [:]
        do {
            let rows = try await connection.query(
                """
                SELECT column_name::text, CASE WHEN data_type = 'USER-DEFINED' THEN udt_name::text ELSE data_type::text END
                FROM information_schema.columns
                WHERE table_schema = coalesce(\(table.schema), current_schema()) AND table_name = \(table.name)
                """,
                logger: logger
            )
            for try await (name, type) in rows.decode((String, String).self) { found[name] = type }
        } catch {
            return [ConfigurationError("cannot read the table's columns: \(PostgresErrorText.describe(error))", key: "directory.table")]
        }
        guard !found.isEmpty else {
            return [ConfigurationError("table '\(table)' does not exist, or \(settings.url.username) cannot see it", key: "directory.table")]
        }
        let idTypes: Set = ["smallint", "integer", "bigint", "text", "character varying", "character", "uuid", "citext"]
        let textTypes: Set = ["text", "character varying", "character", "citext"]
        let activeTypes: Set = ["boolean", "smallint", "integer", "bigint"]
        var problems: [ConfigurationError] = []
        for field in DirectorySettings.Field.allCases {
            guard let column = columns.column(for: field) else { continue }
            let key = "directory.columns.\(field.rawValue)"
            guard let type = found[column] else {
                problems.append(ConfigurationError("column '\(column)' not found in \(table) (it has: \(found.keys.sorted().joined(separator: ", ")))", key: key))
                continue
            }
            let allowed = field == .id ? idTypes : field == .active ? activeTypes : textTypes
            if !allowed.contains(type) {
                problems.append(ConfigurationError("column '\(column)' has type \(type); expected one of \(allowed.sorted().joined(separator: ", "))", key: key))
            }
        }
        if problems.isEmpty {
            // Catches a missing SELECT grant, which information_schema does not.
            do {
                _ = try await connection.query(DirectoryQueries(settings: settings).lookup(""), logger: logger).collect()
            } catch {
                problems.append(ConfigurationError("reading \(table) fails: \(PostgresErrorText.describe(error))", key: "directory.table"))
            }
        }
        return problems
    }
}

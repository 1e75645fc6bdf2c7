import Logging
import PostgresNIO

/// Checks that the directory mapping fits the platform's real table, for `drawbridge check` and start-up.
public struct DirectoryInspector: Sendable {
    public let settings: DirectorySettings
    public let logger: Logger

    public init(settings: DirectorySettings, logger: Logger) {
        self.settings = settings
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
        let problems: [ConfigurationError]
        switch settings.source {
        case .table(let table, let columns):
            problems = await tableProblems(connection, table: table, columns: columns)
        case .lookupQuery(let sql):
            problems = await lookupQueryProblems(connection, sql: sql)
        }
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

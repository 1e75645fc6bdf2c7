import Logging
import PostgresNIO

/// Whether the platform table has the expression indexes the sign-in look-up needs, for `drawbridge check`.
///
/// The look-up matches `lower(column::text) = lower($1)` for each `directory.login_by` column (see
/// `DirectoryQueries.lookup`). A plain or unique index on the column does not serve that, so without an
/// index on `lower(column)` every sign-in reads the whole table: 34 ms at 100,000 users, growing with the
/// table. Only the catalogue is read (pg_index, pg_get_indexdef), on a read-only connection.
public struct LookupIndexInspector: Sendable {
    public let settings: DirectorySettings
    public let logger: Logger

    public init(settings: DirectorySettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    public enum Report: Sendable {
        /// `directory.lookup_query` is the operator's own SQL, so which indexes it needs is theirs to see.
        case skippedForLookupQuery
        /// `indexed` are the expressions that have a usable index (`lower(login)`); `missing` the ones without.
        case checked(table: String, indexed: [String], missing: [MissingIndex])
    }

    /// A `login_by` column whose `lower(…)` has no usable index.
    public struct MissingIndex: Sendable, CustomStringConvertible {
        /// The `login_by` entry it serves.
        public var field: DirectorySettings.Field
        /// The indexed expression as an operator would type it: `lower(login)`, `lower(id::text)`.
        public var expression: String
        /// The table, schema-qualified and quoted as needed: `public.accounts`.
        public var table: String
        /// A matching index that Postgres will not use because it is invalid (what a failed
        /// `CREATE INDEX CONCURRENTLY` leaves behind), schema-qualified.
        public var invalidIndex: String?

        public var createStatement: String { "CREATE INDEX CONCURRENTLY ON \(table) (\(expression));" }

        public var description: String {
            // The look-up ORs every login_by column, so one column without an index costs every sign-in.
            let cost = "so every sign-in reads the whole table"
            if let invalidIndex {
                return "directory.login_by: index \(invalidIndex) on \(table) (\(expression)) is invalid (a failed CREATE INDEX CONCURRENTLY?), "
                    + "\(cost); rebuild it with `DROP INDEX CONCURRENTLY \(invalidIndex); \(createStatement)`"
            }
            return "directory.login_by: \(table) has no index on \(expression), \(cost); add it with `\(createStatement)`"
        }
    }

    public func inspect() async throws -> Report {
        guard case .table(let table, let columns) = settings.source else { return .skippedForLookupQuery }
        let connection = try await PostgresConnection.connect(configuration: settings.url.connectionConfiguration(readOnly: true), id: 1, logger: logger)
        do {
            var qualifiedTable = table.description
            var indexed: [String] = []
            var missing: [MissingIndex] = []
            var seen: Set<String> = []
            for field in settings.loginBy {
                guard let column = columns.column(for: field), seen.insert(column).inserted else { continue }
                guard let shape = try await columnShape(connection, table: table, column: column) else { continue }
                qualifiedTable = shape.table
                let expression = shape.isText ? "lower(\(shape.column))" : "lower(\(shape.column)::text)"
                let matching = try await matchingIndexes(connection, table: table, column: column)
                if matching.contains(where: \.valid) {
                    indexed.append(expression)
                } else {
                    missing.append(MissingIndex(field: field, expression: expression, table: shape.table, invalidIndex: matching.first?.name))
                }
            }
            try? await connection.close()
            return .checked(table: qualifiedTable, indexed: indexed, missing: missing)
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// The table's and column's names as Postgres quotes them, and whether `lower()` takes the column as it is.
    private func columnShape(
        _ connection: PostgresConnection, table: TableReference, column: String
    ) async throws -> (table: String, column: String, isText: Bool)? {
        let rows = try await connection.query(
            """
            SELECT quote_ident(n.nspname) || '.' || quote_ident(t.relname), quote_ident(a.attname),
                   ty.typname IN ('text', 'varchar', 'bpchar', 'citext')
            FROM pg_class t
            JOIN pg_namespace n ON n.oid = t.relnamespace
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = \(column) AND NOT a.attisdropped
            JOIN pg_type ty ON ty.oid = a.atttypid
            WHERE t.oid = \(table.quoted)::regclass
            """,
            logger: logger
        )
        for try await (table, column, isText) in rows.decode((String, String, Bool).self) { return (table, column, isText) }
        return nil
    }

    /// Indexes whose first key is `lower(column)` as Postgres itself prints it (`lower(login)` for a text
    /// column, `lower(email::text)` for varchar), that the look-up can use: whole-table (no `WHERE`), btree or
    /// hash, in the column's collation (100 is the database default, for a column whose type has none).
    private func matchingIndexes(_ connection: PostgresConnection, table: TableReference, column: String) async throws -> [(name: String, valid: Bool)] {
        let rows = try await connection.query(
            """
            SELECT quote_ident(n.nspname) || '.' || quote_ident(ic.relname), i.indisvalid
            FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid
            JOIN pg_namespace n ON n.oid = ic.relnamespace
            JOIN pg_am am ON am.oid = ic.relam
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attname = \(column)
            WHERE i.indrelid = \(table.quoted)::regclass
              AND i.indpred IS NULL
              AND am.amname IN ('btree', 'hash')
              AND pg_get_indexdef(i.indexrelid, 1, true) IN ('lower(' || quote_ident(\(column)) || ')', 'lower(' || quote_ident(\(column)) || '::text)')
              AND i.indcollation[0] = coalesce(nullif(a.attcollation, 0), 100)
            ORDER BY i.indisvalid DESC, ic.relname
            """,
            logger: logger
        )
        var found: [(name: String, valid: Bool)] = []
        for try await (name, valid) in rows.decode((String, Bool).self) { found.append((name, valid)) }
        return found
    }
}

import Logging
import PostgresNIO

/// Runs SQL text holding several statements (a migration file) over PostgresNIO, which speaks only the
/// extended protocol (one statement per query). The text goes to the server whole, inside a DO block's
/// EXECUTE, quoted with a dollar tag that the text itself does not contain; no splitting, no parsing.
public enum PostgresScript {
    public static func run(_ sql: String, on connection: PostgresConnection, logger: Logger) async throws {
        var tag = "drawbridge_script"
        while sql.contains("$\(tag)$") || sql.contains("$\(tag)_outer$") { tag += "_" + String(Int.random(in: 0..<1_000_000)) }
        let block = "DO $\(tag)_outer$ BEGIN EXECUTE $\(tag)$\(sql)$\(tag)$; END $\(tag)_outer$"
        try await connection.query(PostgresQuery(unsafeSQL: block), logger: logger)
    }
}

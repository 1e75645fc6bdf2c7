import Foundation
import PostgresNIO

/// The SQL Drawbridge runs against the platform's table. Identifiers are validated and quoted; values are always bound.
struct DirectoryQueries: Sendable {
    let settings: DirectorySettings

    /// Column order of every row Drawbridge reads: id, login, email, name, password, active.
    static let fieldOrder: [DirectorySettings.Field] = [.id, .login, .email, .name, .password, .active]

    func lookup(_ typedName: String) -> PostgresQuery {
        switch settings.source {
        case .lookupQuery(let sql):
            var bindings = PostgresBindings()
            bindings.append(typedName)
            return PostgresQuery(unsafeSQL: sql, binds: bindings)
        case .table(let table, let columns):
            // Rank by the order of login_by so "login" beats "email" when both could match different users.
            let matches = settings.loginBy.compactMap { columns.column(for: $0) }.map { "lower(\(SQLIdentifier.quote($0))::text) = lower($1)" }
            let rank = matches.enumerated().map { "WHEN \($0.element) THEN \($0.offset)" }.joined(separator: " ")
            let sql = "SELECT \(selectList(columns)), CASE \(rank) END AS drawbridge_rank FROM \(table.quoted) WHERE \(matches.joined(separator: " OR ")) ORDER BY drawbridge_rank LIMIT 5"
            var bindings = PostgresBindings()
            bindings.append(typedName)
            return PostgresQuery(unsafeSQL: sql, binds: bindings)
        }
    }

    /// Look-up by primary key; `idType` is the id column's SQL type, so the bound text is cast to it and the index is used.
    func byID(_ id: String, idType: String) -> PostgresQuery? {
        guard case .table(let table, let columns) = settings.source else { return nil }
        var bindings = PostgresBindings()
        bindings.append(id)
        return PostgresQuery(unsafeSQL: "SELECT \(selectList(columns)) FROM \(table.quoted) WHERE \(SQLIdentifier.quote(columns.id)) = $1::\(idType)", binds: bindings)
    }

    /// Whether `id` can be a value of the id column at all: a cast that fails is an SQL error, not "no such user"
    /// (an API caller may send a login where an id could be).
    static func canBe(_ id: String, idType: String) -> Bool {
        switch idType {
        case "smallint", "integer", "bigint": Int64(id) != nil
        case "uuid": UUID(uuidString: id) != nil
        default: true
        }
    }

    /// The id column's type as SQL (`bigint`, `uuid`, `text`, …).
    func idTypeQuery() -> PostgresQuery? {
        guard case .table(let table, let columns) = settings.source else { return nil }
        var bindings = PostgresBindings()
        bindings.append(table.quoted)
        bindings.append(columns.id)
        return PostgresQuery(
            unsafeSQL: "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped",
            binds: bindings
        )
    }

    func list() -> PostgresQuery? {
        if let listQuery = settings.listQuery { return PostgresQuery(unsafeSQL: listQuery) }
        guard case .table(let table, let columns) = settings.source else { return nil }
        return PostgresQuery(unsafeSQL: "SELECT \(selectList(columns)) FROM \(table.quoted) ORDER BY \(SQLIdentifier.quote(columns.id))")
    }

    /// One page of users in id order, after `cursor` (keyset pagination: memory stays flat however many
    /// users there are). Table mode compares ids in their own type, so the primary key's index is used.
    func page(after cursor: String?, limit: Int, idType: String?) -> PostgresQuery? {
        var bindings = PostgresBindings()
        bindings.append(cursor)
        bindings.append(limit)
        if let listQuery = settings.listQuery {
            let fields = "id, login, email, name, password, active"
            return PostgresQuery(
                unsafeSQL: "SELECT \(fields) FROM (\(listQuery)) AS listed(\(fields)) WHERE $1::text IS NULL OR id::text > $1::text ORDER BY id::text LIMIT $2",
                binds: bindings
            )
        }
        guard case .table(let table, let columns) = settings.source, let idType else { return nil }
        let id = SQLIdentifier.quote(columns.id)
        return PostgresQuery(
            unsafeSQL: "SELECT \(selectList(columns)) FROM \(table.quoted) WHERE $1::text IS NULL OR \(id) > $1::text::\(idType) ORDER BY \(id) LIMIT $2",
            binds: bindings
        )
    }

    func count() -> PostgresQuery? {
        if let listQuery = settings.listQuery { return PostgresQuery(unsafeSQL: "SELECT count(*) FROM (\(listQuery)) AS listed") }
        guard case .table(let table, _) = settings.source else { return nil }
        return PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table.quoted)")
    }

    private func selectList(_ columns: ColumnMapping) -> String {
        [
            SQLIdentifier.quote(columns.id),
            SQLIdentifier.quote(columns.login),
            SQLIdentifier.quote(columns.email),
            columns.name.map(SQLIdentifier.quote) ?? "NULL::text",
            SQLIdentifier.quote(columns.password),
            columns.active.map(SQLIdentifier.quote) ?? "true",
        ].joined(separator: ", ")
    }
}

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

    func list() -> PostgresQuery? {
        if let listQuery = settings.listQuery { return PostgresQuery(unsafeSQL: listQuery) }
        guard case .table(let table, let columns) = settings.source else { return nil }
        return PostgresQuery(unsafeSQL: "SELECT \(selectList(columns)) FROM \(table.quoted) ORDER BY \(SQLIdentifier.quote(columns.id))")
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

import PostgresNIO

/// Short, operator-facing text for database failures (PSQLError's own description is built for bug reports).
public enum PostgresErrorText {
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return String(describing: error) }
        if let message = error.serverInfo?[.message] {
            let detail = error.serverInfo?[.detail].map { " (\($0))" } ?? ""
            return message + detail
        }
        if let underlying = error.underlying {
            return String(describing: underlying)
        }
        return String(describing: error.code)
    }
}

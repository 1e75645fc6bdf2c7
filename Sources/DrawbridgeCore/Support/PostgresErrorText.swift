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
        let code = String(describing: error.code)
        switch code {
        case "authMechanismRequiresPassword":
            return "the server asks for a password and the URL has none (postgres://user:password@host/db, or a *_FILE secret)"
        case "unsupportedAuthMechanism":
            return "the server asks for an authentication method Drawbridge does not support (use scram-sha-256, md5 or trust)"
        default:
            return code
        }
    }
}

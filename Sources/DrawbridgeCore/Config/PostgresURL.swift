import Foundation
import PostgresNIO

/// A `postgres://user:password@host:port/database?sslmode=…` URL, parsed once.
///
/// Its `description` never shows the password, so it is safe in logs and error lines.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, Equatable {
        case disable, prefer, require
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    public var tlsMode: TLSMode
    /// Set when `host` names a unix-socket directory (`?host=/var/run/postgresql`).
    public var unixSocketPath: String?

    public init(parsing text: String) throws(ConfigurationError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            ["postgres", "postgresql"].contains(scheme.lowercased())
        else {
            throw ConfigurationError("is not a postgres:// URL")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        guard let user = components.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw ConfigurationError("names no user (postgres://USER@host/db)")
        }
        self.username = user
        self.password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        self.host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        self.port = components.port ?? 5432
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? nil : path
        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
            self.unixSocketPath = "\(socketDirectory)/.s.PGSQL.\(self.port)"
        }
        let mode = query["sslmode"] ?? "prefer"
        switch mode {
        case "disable", "allow": self.tlsMode = .disable
        case "prefer": self.tlsMode = .prefer
        case "require", "verify-ca", "verify-full": self.tlsMode = .require
        default: throw ConfigurationError("has an unknown sslmode '\(mode)' (use disable, prefer or require)")
        }
    }

    public var description: String {
        let credentials = password == nil ? username : "\(username):***"
        return "postgres://\(credentials)@\(host):\(port)/\(database ?? "")"
    }

    /// Client configuration for PostgresNIO; `readOnly` makes every transaction on these connections read-only.
    /// `schema` becomes the connections' search_path, which the prepared statements (static SQL) rely on.
    public func clientConfiguration(
        maxConnections: Int, readOnly: Bool = false, schema: String? = nil, applicationName: String = "drawbridge"
    ) -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let unixSocketPath {
            configuration = .init(unixSocketPath: unixSocketPath, username: username, password: password, database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch tlsMode {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(.makeClientConfiguration())
            case .require: tls = .require(.makeClientConfiguration())
            }
            configuration = .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        configuration.options.maximumConnections = maxConnections
        configuration.options.connectTimeout = .seconds(5)
        var parameters = [("application_name", applicationName)]
        if readOnly { parameters.append(("default_transaction_read_only", "on")) }
        if let schema { parameters.append(("search_path", SQLIdentifier.quote(schema))) }
        configuration.options.additionalStartupParameters = parameters
        return configuration
    }

    /// Configuration for a single connection, used by checks that must fail fast rather than wait on a pool.
    public func connectionConfiguration(readOnly: Bool = false, applicationName: String = "drawbridge") -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let unixSocketPath {
            configuration = .init(unixSocketPath: unixSocketPath, username: username, password: password, database: database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            switch tlsMode {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try! .init(configuration: .makeClientConfiguration()))
            case .require: tls = .require(try! .init(configuration: .makeClientConfiguration()))
            }
            configuration = .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        var parameters = [("application_name", applicationName)]
        if readOnly { parameters.append(("default_transaction_read_only", "on")) }
        configuration.options.additionalStartupParameters = parameters
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}

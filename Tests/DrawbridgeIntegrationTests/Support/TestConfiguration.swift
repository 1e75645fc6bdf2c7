import DrawbridgeCore
import Foundation

extension DrawbridgeConfiguration {
    /// A gateway on `https://sso.example.com` sharing cookies on `example.com`, over the given test databases.
    static func test(_ databases: TestDatabases, hashing: HashingSettings = HashingSettings(threads: 2, queueLimit: 16)) throws -> DrawbridgeConfiguration {
        DrawbridgeConfiguration(
            http: HTTPSettings(host: "127.0.0.1", port: 0),
            publicURL: try PublicURL(parsing: "https://sso.example.com"),
            trustedProxies: [try IPNetwork(parsing: "127.0.0.1/32")],
            database: DatabaseSettings(url: databases.drawbridgeURL, schema: "drawbridge", maxConnections: 4),
            directory: DirectorySettings(
                url: databases.platformURL,
                source: .table(
                    TableReference(schema: "public", name: "accounts"),
                    columns: ColumnMapping(id: "id", login: "login", email: "email", name: "full_name", password: "password_hash", active: "is_active")
                ),
                loginBy: [.login, .email],
                maxConnections: 4
            ),
            session: SessionSettings(cookieName: "drawbridge_session", cookieDomain: "example.com", idleTimeout: .seconds(3600), absoluteTimeout: .seconds(86400)),
            hashing: hashing,
            keys: KeySettings(encryptionKey: testKeyEncryptionKey)
        )
    }
}

/// One key-encryption key for the whole test run (each test database starts without signing keys).
let testKeyEncryptionKey = KeyEncryptionKey.generate().base64

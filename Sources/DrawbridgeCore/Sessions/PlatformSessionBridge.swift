import Crypto
import Foundation
import Logging
import PostgresNIO

/// Platform-first sign-in: the platform's own session cookie, looked up with the operator's query on the
/// platform's database, names the user. Drawbridge then opens a session of its own without a form, and
/// re-checks the platform's session now and then so that signing out of the platform signs out here too.
public struct PlatformSessionBridge: Sendable {
    public let settings: PlatformSessionSettings
    let client: PostgresClient
    let directory: any UserDirectory
    let logger: Logger

    public init(settings: PlatformSessionSettings, client: PostgresClient, directory: any UserDirectory, logger: Logger) {
        self.settings = settings
        self.client = client
        self.directory = directory
        self.logger = logger
    }

    /// SHA-256 of the cookie value: what Drawbridge keeps to know which platform session a session came from.
    public static func fingerprint(_ cookie: String) -> [UInt8] { Array(SHA256.hash(data: Data(cookie.utf8))) }

    /// The active platform user whose live platform session this cookie is; nil when there is none (expired,
    /// signed out, unknown, or the user is inactive). A failing query is logged and counts as no session.
    public func user(forCookie cookie: String) async -> PlatformUser? {
        guard !cookie.isEmpty, cookie.utf8.count <= 4096 else { return nil }
        let presented = switch settings.hash {
        case .none: cookie
        case .sha256: Self.hex(Self.fingerprint(cookie))
        }
        var bindings = PostgresBindings()
        bindings.append(presented)
        do {
            let rows = try await client.query(PostgresQuery(unsafeSQL: settings.query, binds: bindings), logger: logger)
            for try await row in rows {
                let cells = row.makeRandomAccess()
                guard let id = Self.text(cells[0]) else { return nil }
                let login = cells.count > 1 ? Self.text(cells[1]) ?? "" : ""
                guard let user = try await directory.user(id: id, login: login), user.isActive else { return nil }
                return user
            }
        } catch {
            logger.warning("platform_session.query failed; treating the cookie as no session", metadata: ["error": "\(PostgresErrorText.describe(error))"])
        }
        return nil
    }

    /// Whether the platform session a Drawbridge session came from is still this user's.
    public func stillValid(cookie: String?, for session: Session) async -> Bool {
        guard let cookie, let hash = session.platformSessionHash, ConstantTime.equals(Self.fingerprint(cookie), hash) else { return false }
        return await user(forCookie: cookie)?.id == session.userID
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] }, as: UTF8.self)
    }

    /// The id column may be an integer, text or UUID (as in the directory): read any of them as text.
    private static func text(_ cell: PostgresCell) -> String? {
        // By the column's type: decoding an int8 as String does not fail, it yields the raw bytes.
        switch cell.dataType {
        case .int2, .int4, .int8: return (try? cell.decode(Int64.self)).map(String.init)
        case .uuid: return (try? cell.decode(UUID.self)).map { $0.uuidString.lowercased() }
        default: return try? cell.decode(String.self)
        }
    }
}

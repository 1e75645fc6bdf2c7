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

    /// What the platform says about one of its sessions. `unknown` (its database failed or timed out) is
    /// neither: a caller refuses the request but keeps the session, so a platform outage signs nobody out.
    public enum Answer: Sendable, Equatable {
        case signedIn(PlatformUser)
        case signedOut
        case unknown
    }

    /// The active platform user whose live platform session this cookie is; nil when there is none (expired,
    /// signed out, unknown, or the user is inactive) or when the platform could not be asked.
    public func user(forCookie cookie: String) async -> PlatformUser? {
        guard !cookie.isEmpty, cookie.utf8.count <= 4096 else { return nil }
        if case .signedIn(let user) = await ask(presenting: presented(cookie)) { return user }
        return nil
    }

    /// Whether the platform session a Drawbridge session came from is still this user's, asked with the cookie
    /// the browser sent now (nil when it sent none: the platform cleared it at sign-out).
    public func check(_ session: Session, cookie: String?) async -> Answer {
        guard let cookie, Self.session(session, cameFrom: cookie) else { return .signedOut }
        return Self.sameUser(await ask(presenting: presented(cookie)), as: session)
    }

    /// Whether the browser still holds the platform cookie the session was opened from. Checked on every
    /// request, however recently the platform confirmed the session: a browser now signed in on the platform
    /// as someone else, or signed out there (no cookie), must not go on as the old user.
    public static func session(_ session: Session, cameFrom cookie: String?) -> Bool {
        guard let cookie, let hash = session.platformSessionHash else { return false }
        return ConstantTime.equals(fingerprint(cookie), hash)
    }

    /// Whether Drawbridge can ask the platform about a session with no browser in sight: only when the query
    /// takes the cookie's SHA-256, which is the fingerprint Drawbridge keeps (never the cookie itself).
    public var canCheckWithoutCookie: Bool { settings.hash == .sha256 }

    /// As `check(_:cookie:)`, from the stored fingerprint alone (see `canCheckWithoutCookie`).
    public func check(_ session: Session) async -> Answer {
        guard canCheckWithoutCookie, let hash = session.platformSessionHash else { return .unknown }
        return Self.sameUser(await ask(presenting: Self.hex(hash)), as: session)
    }

    private static func sameUser(_ answer: Answer, as session: Session) -> Answer {
        if case .signedIn(let user) = answer, user.id != session.userID { return .signedOut }
        return answer
    }

    private func presented(_ cookie: String) -> String {
        switch settings.hash {
        case .none: cookie
        case .sha256: Self.hex(Self.fingerprint(cookie))
        }
    }

    /// Runs the operator's query with `presented` as `$1`, and looks the user up in the directory.
    private func ask(presenting presented: String) async -> Answer {
        var bindings = PostgresBindings()
        bindings.append(presented)
        do {
            let rows = try await client.query(PostgresQuery(unsafeSQL: settings.query, binds: bindings), logger: logger)
            for try await row in rows {
                let cells = row.makeRandomAccess()
                guard let id = Self.text(cells[0]) else { return .signedOut }
                let login = cells.count > 1 ? Self.text(cells[1]) ?? "" : ""
                guard let user = try await directory.user(id: id, login: login), user.isActive else { return .signedOut }
                return .signedIn(user)
            }
            return .signedOut
        } catch {
            logger.warning("platform_session.query failed; the platform session counts as unknown", metadata: ["error": "\(PostgresErrorText.describe(error))"])
            return .unknown
        }
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

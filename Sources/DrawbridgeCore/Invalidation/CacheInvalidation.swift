/// One cached thing that changed in Postgres, as a NOTIFY on `channel` names it (`migrations/0009`): a session
/// ended, a token revoked, a client changed, a user found deactivated. Replicas that cache it drop their copy.
public enum CacheInvalidation: Sendable, Hashable {
    /// By the SHA-256 of the session cookie (the `id_hash` column).
    case session(digest: [UInt8])
    /// By the SHA-256 of the bearer token (the `token_hash` column).
    case token(digest: [UInt8])
    case client(id: String)
    /// By the platform's user id.
    case user(id: String)

    /// Shared with the triggers in `migrations/0009_cache_invalidation.sql`; a rename needs a migration.
    public static let channel = "drawbridge_invalidate"

    /// NOTIFY refuses payloads of 8000 bytes or more; ids are cut well short of that (client ids are at most
    /// 128 characters and platform ids are short, so a cut one names nothing cached, which costs nothing).
    static let maximumKeyLength = 4000

    public var payload: String {
        switch self {
        case .session(let digest): "session:" + Self.hex(digest)
        case .token(let digest): "token:" + Self.hex(digest)
        case .client(let id): "client:" + String(id.prefix(Self.maximumKeyLength))
        case .user(let id): "user:" + String(id.prefix(Self.maximumKeyLength))
        }
    }

    /// Nil for anything else: a payload from a newer release is ignored, not fatal.
    public init?(payload: String) {
        guard let colon = payload.firstIndex(of: ":") else { return nil }
        let key = String(payload[payload.index(after: colon)...])
        switch payload[..<colon] {
        case "session":
            guard let digest = Self.bytes(hex: key) else { return nil }
            self = .session(digest: digest)
        case "token":
            guard let digest = Self.bytes(hex: key) else { return nil }
            self = .token(digest: digest)
        case "client": self = .client(id: key)
        case "user": self = .user(id: key)
        default: return nil
        }
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// SHA-256 digests only: 64 hex digits, either case (`encode(…, 'hex')` writes lower case).
    private static func bytes(hex: String) -> [UInt8]? {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

/// Something holding caches that a `CacheInvalidation` may name.
public protocol CacheInvalidationTarget: Sendable {
    /// Drops whatever this holds under the invalidation's key; anything else is ignored.
    func invalidate(_ invalidation: CacheInvalidation)
    /// Drops everything: notices may have been missed (the listener was disconnected).
    func invalidateAll()
}

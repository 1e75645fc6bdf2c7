/// A user as the platform's table describes them. Drawbridge reads these and never writes them.
public struct PlatformUser: Sendable, Equatable {
    /// The platform's id in its text form (an integer, text or UUID column all read as text).
    public var id: String
    public var login: String
    public var email: String?
    public var name: String?
    /// The stored hash exactly as the platform wrote it; never logged, never shown.
    public var passwordHash: String?
    public var isActive: Bool

    public init(id: String, login: String, email: String?, name: String?, passwordHash: String?, isActive: Bool) {
        self.id = id
        self.login = login
        self.email = email
        self.name = name
        self.passwordHash = passwordHash
        self.isActive = isActive
    }
}

extension PlatformUser: CustomStringConvertible {
    /// Leaves the hash out, so a stray `print(user)` or log interpolation cannot leak it.
    public var description: String {
        "PlatformUser(id: \(id), login: \(login), active: \(isActive))"
    }
}

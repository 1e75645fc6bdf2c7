/// The token endpoint's JSON (RFC 6749 §5.1), typed as Mattermost decodes it: `expires_in` an integer
/// that fits 32 bits, `scope` a string; plus GitLab's `created_at`.
public struct TokenResponse: Codable, Sendable, Equatable {
    public var accessToken: String
    public var tokenType: String = "Bearer"
    public var expiresIn: Int32
    public var refreshToken: String?
    public var scope: String
    public var createdAt: Int64
    public var idToken: String?

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case refreshToken = "refresh_token"
        case scope
        case createdAt = "created_at"
        case idToken = "id_token"
    }
}

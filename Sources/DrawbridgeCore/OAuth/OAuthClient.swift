import Foundation

/// A registered relying party (Mattermost, Synapse, Rocket.Chat, …).
public struct OAuthClient: Sendable, Equatable {
    public enum GrantType: String, Sendable, CaseIterable, Codable {
        case authorizationCode = "authorization_code"
        case refreshToken = "refresh_token"
        case implicit
        case password
        case clientCredentials = "client_credentials"
    }

    public var clientID: String
    public var name: String
    /// SHA-256 of the secret; nil for public clients (native and browser apps, which must use PKCE).
    public var secretHash: [UInt8]?
    /// Compared exactly, character for character: no prefix, wildcard or normalisation.
    public var redirectURIs: [String]
    public var grantTypes: Set<GrantType>
    /// Gets codes without a consent page: this is what makes chat sign-in silent.
    public var isTrusted: Bool
    public var isPublic: Bool
    public var allowsPlainPKCE: Bool
    public var backchannelLogoutURI: String?
    public var postLogoutRedirectURIs: [String]
    public var createdAt: Date

    public init(
        clientID: String, name: String, secretHash: [UInt8]?, redirectURIs: [String],
        grantTypes: Set<GrantType> = [.authorizationCode, .refreshToken], isTrusted: Bool = false, isPublic: Bool = false,
        allowsPlainPKCE: Bool = false, backchannelLogoutURI: String? = nil, postLogoutRedirectURIs: [String] = [], createdAt: Date = Date()
    ) {
        self.clientID = clientID
        self.name = name
        self.secretHash = secretHash
        self.redirectURIs = redirectURIs
        self.grantTypes = grantTypes
        self.isTrusted = isTrusted
        self.isPublic = isPublic
        self.allowsPlainPKCE = allowsPlainPKCE
        self.backchannelLogoutURI = backchannelLogoutURI
        self.postLogoutRedirectURIs = postLogoutRedirectURIs
        self.createdAt = createdAt
    }

    public func allows(_ grant: GrantType) -> Bool { grantTypes.contains(grant) }

    /// Constant-time check of a presented secret against the stored hash.
    public func secretMatches(_ presented: String) -> Bool {
        guard let secretHash else { return false }
        return ConstantTime.equals(ClientSecret.hash(presented), secretHash)
    }
}

/// Client ids and secrets: URL-safe (Mattermost puts the id into URLs unescaped), shown once, stored hashed.
public enum ClientSecret {
    public static func newClientID() -> String {
        String(SecretToken().value.prefix(24))
    }

    public static func newSecret() -> String {
        "dbs_" + SecretToken().value
    }

    public static func hash(_ secret: String) -> [UInt8] {
        SecretToken.sha256(secret)
    }

    public static func isValidClientID(_ id: String) -> Bool {
        (8...128).contains(id.utf8.count) && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x5f }
    }

    /// A redirect URI a client may register: absolute, no fragment; https, or http only on loopback (RFC 8252 §7.3).
    public static func validateRedirectURI(_ text: String) -> String? {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), let host = components.host, !host.isEmpty else {
            return "'\(text)' is not an absolute URL"
        }
        if components.fragment != nil { return "'\(text)' has a fragment (#…), which OAuth forbids" }
        let loopback = ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased())
        if scheme == "http" && !loopback { return "'\(text)' uses http; only https (or http on loopback) is allowed" }
        if scheme != "http" && scheme != "https" { return "'\(text)' must be http(s)" }
        return nil
    }
}

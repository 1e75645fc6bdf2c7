/// Lifetimes and policies of the OAuth / OpenID Connect provider.
public struct OAuthSettings: Sendable {
    /// How long an authorization code may wait for its exchange (RFC 6749 recommends at most 10 minutes).
    public var codeLifetime: Duration
    public var accessTokenLifetime: Duration
    public var refreshTokenLifetime: Duration
    public var idTokenLifetime: Duration
    /// A rotated refresh token still works this long (two tabs refreshing at once); after it, reuse revokes the family.
    public var refreshReuseGrace: Duration
    /// Scope granted when a client asks for none (Mattermost sends none); GitLab's `read_user` by default.
    public var defaultScope: String
    /// Scopes clients may ask for; anything else is `invalid_scope`.
    public var supportedScopes: [String]
    /// How old a cached user may be on the hot paths: how long a deactivation on the platform, which sends no
    /// notice, may take to reach this replica. At most one second. Tokens and clients follow `cache.lifetime`
    /// (`CacheSettings`), which NOTIFY keeps current.
    public var cacheLifetime: Duration

    public init(
        codeLifetime: Duration = .seconds(300),
        accessTokenLifetime: Duration = .seconds(3600),
        refreshTokenLifetime: Duration = .seconds(30 * 86400),
        idTokenLifetime: Duration = .seconds(3600),
        refreshReuseGrace: Duration = .seconds(10),
        defaultScope: String = "read_user",
        supportedScopes: [String] = ["openid", "profile", "email", "read_user", "offline_access"],
        cacheLifetime: Duration = .seconds(1)
    ) {
        self.codeLifetime = codeLifetime
        self.accessTokenLifetime = accessTokenLifetime
        self.refreshTokenLifetime = refreshTokenLifetime
        self.idTokenLifetime = idTokenLifetime
        self.refreshReuseGrace = refreshReuseGrace
        self.defaultScope = defaultScope
        self.supportedScopes = supportedScopes
        self.cacheLifetime = cacheLifetime
    }
}

/// Where id_token signing keys come from.
public struct KeySettings: Sendable {
    /// Base64 of 32 random bytes that seals the signing keys at rest (`keys.encryption_key`, best from a secret file).
    public var encryptionKey: String?
    /// Algorithm for newly generated keys.
    public var algorithm: String

    public init(encryptionKey: String? = nil, algorithm: String = "RS256") {
        self.encryptionKey = encryptionKey
        self.algorithm = algorithm
    }
}

extension KeySettings {
    /// The parsed key-encryption key, or an error telling the operator how to make one.
    public func keyEncryptionKey() throws(ConfigurationError) -> KeyEncryptionKey {
        guard let encryptionKey else {
            throw ConfigurationError(
                "missing: Drawbridge needs 32 random bytes (base64) to seal its signing keys; create one with `openssl rand -base64 32` and set keys.encryption_key, DRAWBRIDGE_KEYS_ENCRYPTION_KEY or DRAWBRIDGE_KEYS_ENCRYPTION_KEY_FILE",
                key: "keys.encryption_key"
            )
        }
        do {
            return try KeyEncryptionKey(base64: encryptionKey)
        } catch {
            throw ConfigurationError("\(error)", key: "keys.encryption_key")
        }
    }
}

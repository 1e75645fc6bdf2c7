import Foundation
import Logging

/// The provider's grants, free of HTTP: codes at authorize, tokens at the token endpoint, profiles for
/// the user endpoints. Every path re-checks the platform user, so an inactive user gets nothing.
public struct OAuthService: Sendable {
    public let settings: OAuthSettings
    public let issuer: String
    public let clients: any ClientStore
    public let grants: any GrantStore
    public let directory: any UserDirectory
    public let keys: SigningKeyRing
    public let authenticator: PasswordAuthenticator
    let logger: Logger
    /// Bearer tokens and the users behind them, for the resource endpoints (the hot path). Revocations clear
    /// tokens at once here and, through NOTIFY, on every replica, so tokens may be kept `tokenCacheLifetime`.
    /// Users stay at `settings.cacheLifetime` (one second): a deactivation happens on the platform, whose
    /// database sends Drawbridge no notice.
    let tokenCache: ExpiringCache<[UInt8], TokenGrant>
    let userCache: ExpiringCache<String, PlatformUser?>
    /// Tells other replicas of a deactivation seen here; nil in tools that cache nothing.
    let invalidations: (any CacheInvalidationPublisher)?

    public init(settings: OAuthSettings, issuer: String, clients: any ClientStore, grants: any GrantStore, directory: any UserDirectory,
                keys: SigningKeyRing, authenticator: PasswordAuthenticator, logger: Logger,
                tokenCacheLifetime: Duration? = nil, invalidations: (any CacheInvalidationPublisher)? = nil) {
        self.invalidations = invalidations
        self.settings = settings
        self.issuer = issuer
        self.clients = clients
        self.grants = grants
        self.directory = directory
        self.keys = keys
        self.authenticator = authenticator
        self.logger = logger
        self.tokenCache = ExpiringCache(lifetime: tokenCacheLifetime ?? settings.cacheLifetime)
        self.userCache = ExpiringCache(lifetime: settings.cacheLifetime)
    }

    // MARK: Authorization endpoint

    /// The redirect that answers an approved request: a code (query) or, for implicit clients, a token (fragment).
    public func approve(_ request: AuthorizationRequest, user: PlatformUser, session: Session, sessionToken: SecretToken) async throws -> String {
        switch request.responseType {
        case .code:
            let code = SecretToken()
            let grant = AuthorizationCodeGrant(
                clientID: request.client.clientID, userID: user.id, userLogin: user.login, redirectURI: request.redirectURI,
                scope: request.scope, nonce: request.nonce, codeChallenge: request.codeChallenge,
                codeChallengeMethod: request.codeChallengeMethod, sessionHash: sessionToken.digest, authTime: session.createdAt
            )
            try await grants.storeCode(code, grant: grant, lifetime: settings.codeLifetime)
            return RedirectURIBuilder.build(request.redirectURI, parameters: [("code", code.value), ("state", request.state)])
        case .token:
            let issued = try await grants.issueTokens(
                familyID: UUID(), clientID: request.client.clientID, userID: user.id, userLogin: user.login, scope: request.scope,
                sessionHash: sessionToken.digest, authTime: session.createdAt,
                accessLifetime: settings.accessTokenLifetime, refreshLifetime: nil
            )
            return RedirectURIBuilder.build(request.redirectURI, parameters: [
                ("access_token", issued.accessToken.value), ("token_type", "Bearer"),
                ("expires_in", String(settings.accessTokenLifetime.wholeSeconds)), ("scope", request.scope.description), ("state", request.state),
            ], inFragment: true)
        }
    }

    /// The current platform user behind a session or grant, if they may still use the service.
    /// Always read afresh (grants are issued on it); the answer also refreshes the cache the token-use paths
    /// read, so the user call that follows a token exchange costs no second look-up.
    public func activeUser(id: String, login: String) async throws -> PlatformUser? {
        let found = try await directory.user(id: id, login: login)
        let active = found.flatMap { $0.isActive ? $0 : nil }
        let wasActive = userCache.value(for: id).map { $0 != nil } ?? false
        userCache.store(active, for: id)
        if active == nil, wasActive, let invalidations {
            // Other replicas may hold the user as active for up to a second more; this saves them most of it.
            Task { await invalidations.publish(.user(id: id)) }
        }
        return active
    }

    // MARK: Token endpoint

    public func exchangeCode(_ codeValue: String?, redirectURI: String?, codeVerifier: String?, client: OAuthClient) async throws -> TokenResponse {
        guard client.allows(.authorizationCode) else { throw OAuthError(.unauthorizedClient, "this client may not use the authorization code grant") }
        guard let codeValue, let code = SecretToken(presented: codeValue) else { throw OAuthError(.invalidGrant, "the code is missing or malformed") }
        switch try await grants.redeemCode(code) {
        case .unknown:
            throw OAuthError(.invalidGrant, "the code is unknown or expired")
        case .replayed:
            tokenCache.removeAll()
            logger.warning("authorization code used twice; tokens issued from it are revoked", metadata: ["client_id": "\(client.clientID)"])
            throw OAuthError(.invalidGrant, "the code was already used")
        case .redeemed(let grant, let codeHash, let expired):
            guard !expired else { throw OAuthError(.invalidGrant, "the code has expired") }
            guard grant.clientID == client.clientID else { throw OAuthError(.invalidGrant, "the code was issued to another client") }
            guard redirectURI == grant.redirectURI else { throw OAuthError(.invalidGrant, "redirect_uri does not match the authorization request") }
            if let challenge = grant.codeChallenge, let method = grant.codeChallengeMethod {
                guard PKCE.verify(verifier: codeVerifier, challenge: challenge, method: method) else {
                    throw OAuthError(.invalidGrant, "code_verifier does not match the code_challenge")
                }
            } else if codeVerifier != nil {
                throw OAuthError(.invalidGrant, "code_verifier sent but the authorization request had no code_challenge")
            }
            guard let user = try await activeUser(id: grant.userID, login: grant.userLogin) else {
                throw OAuthError(.invalidGrant, "the user may no longer sign in")
            }
            return try await issue(client: client, user: user, scope: grant.scope, sessionHash: grant.sessionHash,
                                   authTime: grant.authTime, nonce: grant.nonce, familyID: TokenFamily.forCode(hash: codeHash))
        }
    }

    public func refresh(_ tokenValue: String?, requestedScope: String?, client: OAuthClient) async throws -> TokenResponse {
        guard client.allows(.refreshToken) else { throw OAuthError(.unauthorizedClient, "this client may not use refresh tokens") }
        guard let tokenValue, let token = SecretToken(presented: tokenValue) else { throw OAuthError(.invalidGrant, "the refresh token is missing or malformed") }
        var narrowed: Scope?
        if let requestedScope, !Scope(requestedScope).isEmpty { narrowed = Scope(requestedScope) }
        let rotation = try await grants.rotateRefreshToken(
            token, clientID: client.clientID, scope: narrowed, reuseGrace: settings.refreshReuseGrace,
            accessLifetime: settings.accessTokenLifetime, refreshLifetime: settings.refreshTokenLifetime
        )
        switch rotation {
        case .invalid:
            throw OAuthError(.invalidGrant, "the refresh token is unknown, expired or revoked")
        case .scopeTooWide:
            throw OAuthError(.invalidScope, "a refresh cannot widen the scope")
        case .reuseDetected:
            tokenCache.removeAll()
            throw OAuthError(.invalidGrant, "the refresh token was already used; every token of this grant is revoked")
        case .rotated(let issued):
            // The successors already exist (one statement did it all); a user who may no longer sign in never sees them.
            let grant = issued.grant
            guard let userID = grant.userID, let login = grant.userLogin, let user = try await recentActiveUser(id: userID, login: login) else {
                try await grants.revokeFamily(grant.familyID)
                tokenCache.removeAll()
                throw OAuthError(.invalidGrant, "the user may no longer sign in")
            }
            return try await response(for: issued, client: client, user: user, nonce: nil)
        }
    }

    public func passwordGrant(username: String?, password: String?, requestedScope: String?, client: OAuthClient) async throws -> TokenResponse {
        guard client.allows(.password) else { throw OAuthError(.unauthorizedClient, "this client may not use the password grant") }
        guard let username, let password else { throw OAuthError(.invalidRequest, "username and password are required") }
        let scope = try Scope.granted(requested: requestedScope, settings: settings)
        guard case .success(let user) = try await authenticator.authenticate(typedName: username, password: password) else {
            throw OAuthError(.invalidGrant, "incorrect user name or password")
        }
        return try await issue(client: client, user: user, scope: scope, sessionHash: nil, authTime: Date(), nonce: nil, familyID: UUID())
    }

    public func clientCredentials(requestedScope: String?, client: OAuthClient) async throws -> TokenResponse {
        guard client.allows(.clientCredentials), !client.isPublic else {
            throw OAuthError(.unauthorizedClient, "this client may not use the client credentials grant")
        }
        let scope = try Scope.granted(requested: requestedScope, settings: settings)
        guard !scope.contains("openid") else { throw OAuthError(.invalidScope, "openid needs a user") }
        let issued = try await grants.issueTokens(
            familyID: UUID(), clientID: client.clientID, userID: nil, userLogin: nil, scope: scope, sessionHash: nil,
            authTime: nil, accessLifetime: settings.accessTokenLifetime, refreshLifetime: nil
        )
        return TokenResponse(accessToken: issued.accessToken.value, expiresIn: Int32(settings.accessTokenLifetime.wholeSeconds),
                             refreshToken: nil, scope: scope.description, createdAt: Int64(issued.grant.createdAt.timeIntervalSince1970), idToken: nil)
    }

    private func issue(client: OAuthClient, user: PlatformUser, scope: Scope, sessionHash: [UInt8]?,
                       authTime: Date?, nonce: String?, familyID: UUID) async throws -> TokenResponse {
        let issued = try await grants.issueTokens(
            familyID: familyID, clientID: client.clientID, userID: user.id, userLogin: user.login, scope: scope,
            sessionHash: sessionHash, authTime: authTime, accessLifetime: settings.accessTokenLifetime,
            refreshLifetime: client.allows(.refreshToken) ? settings.refreshTokenLifetime : nil
        )
        return try await response(for: issued, client: client, user: user, nonce: nonce)
    }

    /// The token endpoint's answer for freshly issued tokens, with an id_token when the scope has `openid`.
    private func response(for issued: IssuedTokens, client: OAuthClient, user: PlatformUser, nonce: String?) async throws -> TokenResponse {
        let scope = issued.grant.scope, sessionHash = issued.grant.sessionHash, authTime = issued.grant.authTime
        var idToken: String?
        if scope.contains("openid") {
            let profile = try await self.profile(of: user)
            let signer = try await keys.signer()
            let now = Date()
            let claims = IDTokenClaims(
                iss: issuer, sub: profile.subject, aud: client.clientID,
                exp: now.addingTimeInterval(TimeInterval(settings.idTokenLifetime.wholeSeconds)), iat: now, authTime: authTime,
                nonce: nonce, atHash: OIDCHashes.leftHalfHash(of: issued.accessToken.value, algorithm: signer.activeAlgorithm),
                sid: sessionHash.map(SessionID.sid(digest:)),
                name: scope.contains("profile") ? profile.name : nil,
                preferredUsername: scope.contains("profile") ? profile.username : nil,
                email: scope.contains("email") ? profile.email : nil,
                emailVerified: scope.contains("email") && profile.email != nil ? true : nil
            )
            idToken = try await signer.sign(claims)
        }
        return TokenResponse(
            accessToken: issued.accessToken.value, expiresIn: Int32(settings.accessTokenLifetime.wholeSeconds),
            refreshToken: issued.refreshToken?.value, scope: scope.description,
            createdAt: Int64(issued.grant.createdAt.timeIntervalSince1970), idToken: idToken
        )
    }

    /// Drops every cached bearer token, after a revocation made elsewhere (single logout): this replica then
    /// refuses a revoked token at once; other replicas when the trigger's NOTIFY reaches them.
    public func forgetCachedTokens() {
        tokenCache.removeAll()
    }

    // MARK: Resource endpoints

    /// The grant and current user behind a bearer token; nil when the token is unknown, expired, revoked,
    /// not an access token, or its user may no longer sign in.
    public func authorize(bearer value: String) async throws -> (TokenGrant, PlatformUser?)? {
        guard let token = SecretToken(presented: value) else { return nil }
        let digest = token.digest
        var grant = tokenCache.value(for: digest)
        let generation = tokenCache.generation
        if grant == nil, let loaded = try await grants.token(token) {
            // Kept no longer than the token itself lives, and not at all if revoked while being read.
            tokenCache.store(loaded, for: digest, notAfter: .now + .seconds(max(0, loaded.expiresAt.timeIntervalSinceNow)), loadedSince: generation)
            grant = loaded
        }
        guard let grant, grant.kind == .access, grant.isUsable() else { return nil }
        guard let userID = grant.userID, let login = grant.userLogin else { return (grant, nil) }
        guard let user = try await recentActiveUser(id: userID, login: login) else { return nil }
        return (grant, user)
    }

    /// Revokes a token presented by its client (RFC 7009), here at once and on every replica when its NOTIFY arrives.
    public func revoke(_ token: SecretToken, clientID: String) async throws -> Bool {
        let revoked = try await grants.revoke(token, clientID: clientID)
        if revoked { tokenCache.removeAll() }
        return revoked
    }

    /// As `activeUser`, but possibly up to `cacheLifetime` old: for token use, not for issuing grants.
    public func recentActiveUser(id: String, login: String) async throws -> PlatformUser? {
        try await userCache.value(for: id) { try await activeUser(id: id, login: login) }
    }

    public func profile(of user: PlatformUser) async throws -> UserProfile {
        UserProfile(user: user, numericID: try await grants.numericID(forPlatformID: user.id))
    }
}

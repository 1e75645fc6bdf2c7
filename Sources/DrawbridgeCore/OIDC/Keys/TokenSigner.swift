import Foundation
import JWTKit

/// Signs id_tokens with the newest active key, verifies tokens signed by any key it was given, and renders
/// the JWKS of all of them. Build one from the rows the caller wants to use (active key + retired keys still
/// published); rebuild it after a rotation.
public struct TokenSigner: Sendable {
    /// The kid new tokens are signed with: the newest key (by `createdAt`, then kid) without `retiredAt`.
    public let activeKeyID: String
    public let activeAlgorithm: SigningAlgorithm
    /// Every key's kid, active one first, then newest to oldest.
    public let keyIDs: [String]

    private let collection: JWTKeyCollection
    private let algorithms: [String: SigningAlgorithm]
    private let publicJWKs: [String]

    /// Opens every key with `kek` (all must open: a key that does not is an operator error worth hearing
    /// about at startup), and checks each row's public JWK against its private key.
    /// Throws `SigningKeyError`: `.wrongEncryptionKey(kid:)`, `.corruptStoredKey`, `.publicKeyMismatch`,
    /// `.duplicateKeyID`, `.noActiveKey`.
    public init(keys: [StoredSigningKey], kek: KeyEncryptionKey) async throws {
        let ordered = keys.sorted { a, b in
            if a.isActive != b.isActive { return a.isActive }
            if a.createdAt != b.createdAt { return a.createdAt > b.createdAt }
            return a.kid > b.kid
        }
        guard let active = ordered.first, active.isActive else { throw SigningKeyError.noActiveKey }

        let collection = JWTKeyCollection()
        var algorithms: [String: SigningAlgorithm] = [:]
        var publicJWKs: [String] = []
        for stored in ordered {
            guard algorithms[stored.kid] == nil else { throw SigningKeyError.duplicateKeyID(stored.kid) }
            let (key, _) = try UnsealedSigningKey.open(stored, kek: kek)
            await key.add(to: collection, kid: stored.kid)
            algorithms[stored.kid] = stored.algorithm
            publicJWKs.append(try key.publicJWK(kid: stored.kid).json)
        }
        self.collection = collection
        self.algorithms = algorithms
        self.publicJWKs = publicJWKs
        self.activeKeyID = active.kid
        self.activeAlgorithm = active.algorithm
        self.keyIDs = ordered.map(\.kid)
    }

    /// A compact JWS whose header is `{"alg": <active alg>, "kid": <active kid>, "typ": "JWT"}`.
    public func sign(_ claims: IDTokenClaims) async throws -> String {
        try await collection.sign(claims, kid: JWKIdentifier(string: activeKeyID))
    }

    /// A logout token, explicitly typed `logout+jwt` (Back-Channel Logout 1.0 §2.4) so it cannot pass for an id_token.
    public func sign(_ claims: LogoutTokenClaims) async throws -> String {
        var header = JWTHeader()
        header.typ = "logout+jwt"
        return try await collection.sign(claims, kid: JWKIdentifier(string: activeKeyID), header: header)
    }

    /// Checks the signature with the key the header's `kid` names (its `alg` must be that key's), then the
    /// expiry against `now` unless `acceptExpired` (RP-initiated logout accepts an expired `id_token_hint`).
    /// Issuer and audience are the caller's to check. Errors are `SigningKeyError`s.
    public func verify(_ token: String, now: Date = Date(), acceptExpired: Bool = false) async throws -> IDTokenClaims {
        let header = try JOSEHeader(token: token)
        guard let kid = header.kid, let algorithm = algorithms[kid] else {
            throw SigningKeyError.unknownKeyID(header.kid)
        }
        guard header.alg == algorithm.rawValue else {
            throw SigningKeyError.algorithmMismatch(kid: kid, expected: algorithm, found: header.alg)
        }
        let claims: IDTokenClaims
        do {
            claims = try await collection.verify(token, as: SignatureCheckedClaims.self).claims
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw SigningKeyError.invalidSignature
        } catch {
            throw SigningKeyError.malformedToken(reason: String(describing: error))
        }
        if !acceptExpired, now >= claims.exp {
            throw SigningKeyError.tokenExpired(expiredAt: claims.exp)
        }
        return claims
    }

    /// `{"keys":[…]}` with every given key's public JWK (retired ones included), active key first.
    public func jwksJSON() -> String {
        #"{"keys":["# + publicJWKs.joined(separator: ",") + "]}"
    }
}

/// The protected header fields we look at before handing the token to jwt-kit.
struct JOSEHeader: Decodable {
    var alg: String?
    var kid: String?
    var crit: [String]?

    init(token: String) throws(SigningKeyError) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw .malformedToken(reason: "a JWS has 3 dot-separated parts, this has \(parts.count)")
        }
        guard let bytes = Base64URL.decode(String(parts[0])),
            let header = try? JSONDecoder().decode(JOSEHeader.self, from: Data(bytes))
        else {
            throw .malformedToken(reason: "the header is not base64url-encoded JSON")
        }
        // RFC 7515 §4.1.11: extensions we do not understand must make the token invalid; we understand none.
        guard header.crit == nil else {
            throw .malformedToken(reason: "the header has a \"crit\" member")
        }
        self = header
    }
}

/// Lets jwt-kit check the signature and decode the claims, leaving the expiry to `TokenSigner.verify`.
private struct SignatureCheckedClaims: JWTPayload {
    var claims: IDTokenClaims

    init(from decoder: any Decoder) throws {
        claims = try IDTokenClaims(from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try claims.encode(to: encoder)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

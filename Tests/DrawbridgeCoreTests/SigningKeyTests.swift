import DrawbridgeCore
import Foundation
import Testing

@Suite struct SigningKeyTests {
    static let kek = KeyEncryptionKey.generate()
    static let created = Date(timeIntervalSince1970: 1_760_000_000)
    // Generated once: RSA key generation takes a noticeable fraction of a second.
    static let rsaKey = try! SigningKeyFactory.generate(.rs256, kek: kek, now: created)
    static let ecKey = try! SigningKeyFactory.generate(.es256, kek: kek, now: created)

    static func key(_ algorithm: SigningAlgorithm) -> StoredSigningKey {
        algorithm == .rs256 ? rsaKey : ecKey
    }

    static func claims(expiringIn seconds: TimeInterval = 600, now: Date = Date()) -> IDTokenClaims {
        IDTokenClaims(
            iss: "https://sso.example.com", sub: "user-42", aud: "wiki", exp: now.addingTimeInterval(seconds), iat: now,
            authTime: now.addingTimeInterval(-30), nonce: "n-0S6_WzA2Mj", atHash: OIDCHashes.leftHalfHash(of: "an-access-token", algorithm: .rs256),
            sid: "session-1", name: "Ada Lovelace", preferredUsername: "ada", email: "ada@example.com", emailVerified: true
        )
    }

    /// A token segment (0 header, 1 payload) as a JSON object.
    static func segment(_ token: String, _ index: Int) throws -> [String: Any] {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        let bytes = try #require(Base64URL.decode(String(parts[index])))
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    static func replacingSegment(_ token: String, _ index: Int, with json: String) -> String {
        var parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        parts[index] = Base64URL.encode(Array(json.utf8))
        return parts.joined(separator: ".")
    }

    // MARK: sign and verify

    @Test(arguments: SigningAlgorithm.allCases)
    func signThenVerifyRoundTrips(_ algorithm: SigningAlgorithm) async throws {
        let signer = try await TokenSigner(keys: [Self.key(algorithm)], kek: Self.kek)
        #expect(signer.activeKeyID == Self.key(algorithm).kid)
        #expect(signer.activeAlgorithm == algorithm)

        let claims = Self.claims()
        let token = try await signer.sign(claims)
        let header = try Self.segment(token, 0)
        #expect(header["kid"] as? String == Self.key(algorithm).kid)
        #expect(header["alg"] as? String == algorithm.rawValue)
        #expect(header["typ"] as? String == "JWT")
        #expect(try await signer.verify(token) == claims)
    }

    @Test func claimsUseOIDCNamesAndIntegerTimes() async throws {
        let signer = try await TokenSigner(keys: [Self.ecKey], kek: Self.kek)
        let now = Date(timeIntervalSince1970: 1_800_000_000.75)
        let full = try Self.segment(try await signer.sign(Self.claims(now: now)), 1)
        #expect(full["aud"] as? String == "wiki")
        #expect(full["exp"] as? Int == 1_800_000_600)
        #expect(full["iat"] as? Int == 1_800_000_000)
        #expect(full["auth_time"] as? Int == 1_799_999_970)
        #expect(full["at_hash"] as? String == OIDCHashes.leftHalfHash(of: "an-access-token", algorithm: .rs256))
        #expect(full["preferred_username"] as? String == "ada")
        #expect(full["email_verified"] as? Bool == true)
        #expect(full["sid"] as? String == "session-1")

        let minimal = IDTokenClaims(iss: "i", sub: "s", aud: "a", exp: now.addingTimeInterval(60), iat: now)
        let payload = try Self.segment(try await signer.sign(minimal), 1)
        #expect(Set(payload.keys) == ["iss", "sub", "aud", "exp", "iat"])
    }

    // MARK: JWKS

    @Test func jwksHasEveryKeyWithUseSigAndOnlyPublicMembers() async throws {
        let signer = try await TokenSigner(keys: [Self.rsaKey.retired(at: Self.created), Self.ecKey], kek: Self.kek)
        let json = signer.jwksJSON()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let keys = try #require(object["keys"] as? [[String: Any]])
        #expect(keys.count == 2)
        #expect(keys.map { $0["kid"] as? String } == [Self.ecKey.kid, Self.rsaKey.kid])  // active key first

        let rsa = try #require(keys.first { $0["kty"] as? String == "RSA" })
        #expect(rsa["use"] as? String == "sig")
        #expect(rsa["alg"] as? String == "RS256")
        #expect(rsa["e"] as? String == "AQAB")
        #expect(Base64URL.decode(try #require(rsa["n"] as? String))?.count == 256)
        let ec = try #require(keys.first { $0["kty"] as? String == "EC" })
        #expect(ec["use"] as? String == "sig")
        #expect(ec["alg"] as? String == "ES256")
        #expect(ec["crv"] as? String == "P-256")
        #expect(Base64URL.decode(try #require(ec["x"] as? String))?.count == 32)
        #expect(Base64URL.decode(try #require(ec["y"] as? String))?.count == 32)
        for key in keys {
            #expect(Set(key.keys).isDisjoint(with: ["d", "p", "q", "dp", "dq", "qi"]))
        }

        // The stored JWK is compact with sorted keys, and is what the JWKS publishes.
        #expect(Self.rsaKey.publicJWK.hasPrefix(#"{"alg":"RS256","e":"AQAB","kid":""#))
        #expect(Self.ecKey.publicJWK.hasPrefix(#"{"alg":"ES256","crv":"P-256","kid":""#))
        #expect(json == #"{"keys":["# + Self.ecKey.publicJWK + "," + Self.rsaKey.publicJWK + "]}")
    }

    /// A third party (Python's `cryptography`) checks our JWKS and signatures, and the kids as RFC 7638
    /// thumbprints; a tampered token is the negative control that shows it really checks.
    @Test func pythonCryptographyVerifiesTokensAgainstTheJWKS() async throws {
        let signer = try await TokenSigner(keys: [Self.rsaKey.retired(at: Self.created), Self.ecKey], kek: Self.kek)
        let oldSigner = try await TokenSigner(keys: [Self.rsaKey], kek: Self.kek)
        let rsaToken = try await oldSigner.sign(Self.claims())
        let ecToken = try await signer.sign(Self.claims())
        let forged = Self.replacingSegment(ecToken, 1, with: #"{"iss":"https://sso.example.com","sub":"admin","aud":"wiki","exp":4102444800,"iat":0}"#)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = ["verify.py": PythonVerifier.script, "jwks.json": signer.jwksJSON(), "rs.jwt": rsaToken, "es.jwt": ecToken, "forged.jwt": forged]
        for (name, content) in files {
            try content.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }

        let (status, output) = try PythonVerifier.run(["verify.py", "jwks.json", "rs.jwt", "es.jwt", "forged.jwt"], in: directory)
        try #require(status == 0, "python3 verifier failed (needs python3 with the cryptography package): \(output)")
        let results = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]], "\(output)")
        #expect(results.map { $0["valid"] as? Bool } == [true, true, false])
        #expect(results.map { $0["kid"] as? String } == [Self.rsaKey.kid, Self.ecKey.kid, Self.ecKey.kid])
        #expect((results[0]["claims"] as? [String: Any])?["sub"] as? String == "user-42")
        #expect((results[1]["claims"] as? [String: Any])?["at_hash"] as? String == Self.claims().atHash)
    }

    // MARK: sealing

    @Test func anotherKEKCannotOpenAKeyAndTheErrorNamesIt() async throws {
        let other = KeyEncryptionKey.generate()
        await #expect(throws: SigningKeyError.wrongEncryptionKey(kid: Self.ecKey.kid)) {
            _ = try await TokenSigner(keys: [Self.ecKey], kek: other)
        }
        #expect(SigningKeyError.wrongEncryptionKey(kid: Self.ecKey.kid).description.contains(Self.ecKey.kid))
    }

    @Test func aSealedKeyMovedToAnotherRowDoesNotOpen() async throws {
        let second = try SigningKeyFactory.generate(.es256, kek: Self.kek)
        var swapped = second
        swapped.sealedPrivateKey = Self.ecKey.sealedPrivateKey
        await #expect(throws: SigningKeyError.wrongEncryptionKey(kid: second.kid)) {
            _ = try await TokenSigner(keys: [swapped], kek: Self.kek)
        }
        var relabelled = Self.ecKey  // same blob, claimed for another algorithm
        relabelled.algorithm = .rs256
        await #expect(throws: SigningKeyError.wrongEncryptionKey(kid: Self.ecKey.kid)) {
            _ = try await TokenSigner(keys: [relabelled], kek: Self.kek)
        }
        var wrongPublic = second  // the published key is not the private key's
        wrongPublic.publicJWK = Self.ecKey.publicJWK.replacingOccurrences(of: Self.ecKey.kid, with: second.kid)
        await #expect(throws: SigningKeyError.publicKeyMismatch(kid: second.kid)) {
            _ = try await TokenSigner(keys: [wrongPublic], kek: Self.kek)
        }
    }

    @Test func resealMovesAKeyToANewKEK() async throws {
        let newKEK = KeyEncryptionKey.generate()
        let moved = try SigningKeyFactory.reseal(Self.ecKey, from: Self.kek, to: newKEK)
        #expect(moved.kid == Self.ecKey.kid && moved.publicJWK == Self.ecKey.publicJWK)
        #expect(try await TokenSigner(keys: [moved], kek: newKEK).activeKeyID == Self.ecKey.kid)
        await #expect(throws: SigningKeyError.wrongEncryptionKey(kid: Self.ecKey.kid)) {
            _ = try await TokenSigner(keys: [moved], kek: Self.kek)
        }
    }

    // MARK: rotation

    @Test func afterRotationNewTokensUseTheNewKeyAndOldTokensStillVerify() async throws {
        let before = try await TokenSigner(keys: [Self.rsaKey], kek: Self.kek)
        let oldToken = try await before.sign(Self.claims())

        let rotatedAt = Self.created.addingTimeInterval(86_400)
        let newKey = try SigningKeyFactory.generate(.rs256, kek: Self.kek, now: rotatedAt)
        let after = try await TokenSigner(keys: [Self.rsaKey.retired(at: rotatedAt), newKey], kek: Self.kek)
        #expect(after.activeKeyID == newKey.kid)
        #expect(after.keyIDs == [newKey.kid, Self.rsaKey.kid])
        let newToken = try await after.sign(Self.claims())
        #expect(try Self.segment(newToken, 0)["kid"] as? String == newKey.kid)
        #expect(try await after.verify(oldToken).sub == "user-42")
        #expect(try await after.verify(newToken).sub == "user-42")
        // While both are active (new key inserted, old one not yet retired), the newer one signs.
        let overlapping = try await TokenSigner(keys: [Self.rsaKey, newKey], kek: Self.kek)
        #expect(overlapping.activeKeyID == newKey.kid)

        // Once the old key is dropped from the set, its tokens are unknown.
        let later = try await TokenSigner(keys: [newKey], kek: Self.kek)
        await #expect(throws: SigningKeyError.unknownKeyID(Self.rsaKey.kid)) { _ = try await later.verify(oldToken) }
        await #expect(throws: SigningKeyError.duplicateKeyID(newKey.kid)) {
            _ = try await TokenSigner(keys: [newKey, newKey.retired(at: rotatedAt)], kek: Self.kek)
        }
        // Only retired keys: nothing may sign.
        await #expect(throws: SigningKeyError.noActiveKey) {
            _ = try await TokenSigner(keys: [Self.rsaKey.retired(at: rotatedAt)], kek: Self.kek)
        }
    }

    @Test func aRetiredKeyIsPublishedUntilItsLastTokenExpired() {
        let retiredAt = Self.created
        let key = Self.ecKey.retired(at: retiredAt)
        #expect(Self.ecKey.isPublished(at: .distantFuture, tokenLifetime: .seconds(3600)))
        #expect(key.isPublished(at: retiredAt.addingTimeInterval(3600 + 299), tokenLifetime: .seconds(3600)))
        #expect(!key.isPublished(at: retiredAt.addingTimeInterval(3600 + 300), tokenLifetime: .seconds(3600)))
        #expect(key.retired(at: .distantFuture).retiredAt == retiredAt)
    }

    // MARK: verification failures

    @Test func anExpiredTokenIsRejectedUnlessExpiredTokensAreAccepted() async throws {
        let signer = try await TokenSigner(keys: [Self.ecKey], kek: Self.kek)
        let token = try await signer.sign(Self.claims(expiringIn: -1))
        await #expect(throws: SigningKeyError.self) { _ = try await signer.verify(token) }
        do {
            _ = try await signer.verify(token)
        } catch let error as SigningKeyError {
            guard case .tokenExpired = error else { Issue.record("expected tokenExpired, got \(error)"); return }
        }
        #expect(try await signer.verify(token, acceptExpired: true).sub == "user-42")
        #expect(try await signer.verify(token, now: Date().addingTimeInterval(-60)).sub == "user-42")
    }

    @Test func forgedOrAlteredTokensAreRejected() async throws {
        let signer = try await TokenSigner(keys: [Self.rsaKey, Self.ecKey.retired(at: Self.created)], kek: Self.kek)
        let token = try await signer.sign(Self.claims())
        let kid = Self.rsaKey.kid

        let changedPayload = Self.replacingSegment(token, 1, with: #"{"iss":"x","sub":"admin","aud":"wiki","exp":4102444800,"iat":0}"#)
        await #expect(throws: SigningKeyError.invalidSignature) { _ = try await signer.verify(changedPayload) }
        let noneAlg = Self.replacingSegment(token, 0, with: #"{"alg":"none","kid":"\#(kid)"}"#).split(separator: ".")[0...1].joined(separator: ".") + "."
        await #expect(throws: SigningKeyError.algorithmMismatch(kid: kid, expected: .rs256, found: "none")) { _ = try await signer.verify(noneAlg) }
        let hsAlg = Self.replacingSegment(token, 0, with: #"{"alg":"HS256","kid":"\#(kid)","typ":"JWT"}"#)
        await #expect(throws: SigningKeyError.algorithmMismatch(kid: kid, expected: .rs256, found: "HS256")) { _ = try await signer.verify(hsAlg) }
        let crossKey = Self.replacingSegment(token, 0, with: #"{"alg":"RS256","kid":"\#(Self.ecKey.kid)","typ":"JWT"}"#)
        await #expect(throws: SigningKeyError.algorithmMismatch(kid: Self.ecKey.kid, expected: .es256, found: "RS256")) { _ = try await signer.verify(crossKey) }
        let noKid = Self.replacingSegment(token, 0, with: #"{"alg":"RS256","typ":"JWT"}"#)
        await #expect(throws: SigningKeyError.unknownKeyID(nil)) { _ = try await signer.verify(noKid) }
        let crit = Self.replacingSegment(token, 0, with: #"{"alg":"RS256","kid":"\#(kid)","crit":["exp"]}"#)
        await #expect(throws: SigningKeyError.malformedToken(reason: #"the header has a "crit" member"#)) { _ = try await signer.verify(crit) }
        await #expect(throws: SigningKeyError.self) { _ = try await signer.verify("not-a-token") }
        await #expect(throws: SigningKeyError.self) { _ = try await signer.verify(token + "x") }
    }

    // MARK: hashes and the KEK

    @Test func atHashAndCHashMatchOIDCCoreExamples() {
        // OIDC Core 1.0, Appendix A.4 (values recomputed with Python's hashlib).
        #expect(OIDCHashes.leftHalfHash(of: "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", algorithm: .rs256) == "77QmUPtjPfzWtF2AnpK9RQ")
        #expect(OIDCHashes.leftHalfHash(of: "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk", algorithm: .es256) == "LDktKdoQak3Pk0cnXxCltA")
    }

    @Test func keyEncryptionKeyAcceptsBase64Of32BytesInAnyForm() throws {
        let bytes = (0..<32).map { UInt8(($0 * 7 + 250) % 256) }  // includes bytes that encode to + and /
        let standard = Data(bytes).base64EncodedString()
        #expect(standard.contains("+") || standard.contains("/"))
        let forms = [standard, standard + "\n", "  " + standard, String(standard.dropLast()), Base64URL.encode(bytes)]
        for form in forms {
            #expect(try KeyEncryptionKey(base64: form).base64 == standard, "\(form)")
        }
        let generated = KeyEncryptionKey.generate()
        #expect(try KeyEncryptionKey(base64: generated.base64).base64 == generated.base64)
        #expect(!"\(generated)".contains(generated.base64))
    }

    @Test(arguments: [16, 31, 33, 64])
    func keyEncryptionKeyRejectsWrongLengths(_ count: Int) throws {
        let text = Data(repeating: 0xab, count: count).base64EncodedString()
        #expect(throws: SigningKeyError.keyEncryptionKeyWrongLength(byteCount: count)) { try KeyEncryptionKey(base64: text) }
        let message = SigningKeyError.keyEncryptionKeyWrongLength(byteCount: count).description
        #expect(message.contains("\(count) bytes") && message.contains("exactly 32"))
    }

    @Test(arguments: ["", "not base64!", "a", "****************************************llll="])
    func keyEncryptionKeyRejectsNonBase64(_ text: String) throws {
        #expect(throws: SigningKeyError.keyEncryptionKeyNotBase64) { try KeyEncryptionKey(base64: text) }
    }
}

/// Verifies id_tokens against a JWKS with Python's `cryptography` package: an implementation that shares no
/// code with ours.
enum PythonVerifier {
    static func run(_ arguments: [String], in directory: URL) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.currentDirectoryURL = directory
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    static let script = #"""
        import base64, hashlib, json, sys
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

        def b64d(text):
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

        def uint(text):
            return int.from_bytes(b64d(text), "big")

        keys = {}
        for jwk in json.load(open(sys.argv[1]))["keys"]:
            assert jwk["use"] == "sig", jwk
            if jwk["kty"] == "RSA":
                assert jwk["alg"] == "RS256", jwk
                required = {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}
                public = rsa.RSAPublicNumbers(uint(jwk["e"]), uint(jwk["n"])).public_key()
                assert public.key_size == 2048, public.key_size
            elif jwk["kty"] == "EC":
                assert jwk["alg"] == "ES256" and jwk["crv"] == "P-256", jwk
                assert len(b64d(jwk["x"])) == 32 and len(b64d(jwk["y"])) == 32, jwk
                required = {"crv": "P-256", "kty": "EC", "x": jwk["x"], "y": jwk["y"]}
                public = ec.EllipticCurvePublicNumbers(uint(jwk["x"]), uint(jwk["y"]), ec.SECP256R1()).public_key()
            else:
                raise SystemExit("unexpected kty %r" % jwk["kty"])
            canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
            thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
            assert jwk["kid"] == thumbprint, "kid %s is not the RFC 7638 thumbprint %s" % (jwk["kid"], thumbprint)
            keys[jwk["kid"]] = (jwk["alg"], public)

        results = []
        for path in sys.argv[2:]:
            token = open(path).read().strip()
            header_part, payload_part, signature_part = token.split(".")
            header = json.loads(b64d(header_part))
            alg, public = keys[header["kid"]]
            assert header["alg"] == alg and header["typ"] == "JWT", header
            signature = b64d(signature_part)
            signed = (header_part + "." + payload_part).encode("ascii")
            try:
                if alg == "RS256":
                    public.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
                else:
                    assert len(signature) == 64, len(signature)
                    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                    public.verify(utils.encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256()))
                valid = True
            except InvalidSignature:
                valid = False
            results.append({"kid": header["kid"], "valid": valid, "claims": json.loads(b64d(payload_part))})
        print(json.dumps(results))
        """#
}

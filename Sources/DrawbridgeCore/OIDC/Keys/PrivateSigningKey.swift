import Crypto
import Foundation
import JWTKit
import _CryptoExtras

/// A signing key's private part in memory, in the form jwt-kit signs with.
enum PrivateSigningKey: Sendable {
    case rsa(JWTKit.Insecure.RSA.PrivateKey)
    case p256(ES256PrivateKey)

    var algorithm: SigningAlgorithm {
        switch self {
        case .rsa: .rs256
        case .p256: .es256
        }
    }

    /// A fresh key: RSA 2048 for RS256, P-256 for ES256.
    static func generate(_ algorithm: SigningAlgorithm) throws(SigningKeyError) -> (key: PrivateSigningKey, pkcs8: [UInt8]) {
        do {
            switch algorithm {
            case .rs256:
                let backing = try _RSA.Signing.PrivateKey(keySize: .bits2048)
                return (.rsa(try JWTKit.Insecure.RSA.PrivateKey(backing: backing)), Array(backing.pkcs8DERRepresentation))
            case .es256:
                let backing = P256.Signing.PrivateKey()
                return (.p256(try ES256PrivateKey(backing: backing)), Array(backing.derRepresentation))
            }
        } catch {
            throw .keyGenerationFailed(reason: String(describing: error))
        }
    }

    /// Parses the PKCS#8 DER that `generate` produced (after it was sealed and opened again).
    init(pkcs8 der: [UInt8], algorithm: SigningAlgorithm, kid: String) throws(SigningKeyError) {
        do {
            switch algorithm {
            case .rs256:
                self = .rsa(try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(derRepresentation: der)))
            case .es256:
                self = .p256(try ES256PrivateKey(backing: P256.Signing.PrivateKey(derRepresentation: der)))
            }
        } catch {
            throw .corruptStoredKey(kid: kid, reason: "the decrypted private key is not a \(algorithm.rawValue) key in PKCS#8 DER (\(error))")
        }
    }

    /// The public JWK under `kid`; with `kid: nil`, under its own RFC 7638 thumbprint.
    func publicJWK(kid: String? = nil) throws(SigningKeyError) -> PublicJWK {
        var jwk: PublicJWK
        switch self {
        case .rsa(let key):
            guard let primitives = try? key.publicKey.getKeyPrimitives() else {
                throw .keyGenerationFailed(reason: "cannot read the RSA modulus and exponent")
            }
            jwk = .rsa(kid: "", modulus: Array(primitives.modulus), exponent: Array(primitives.publicExponent))
        case .p256(let key):
            guard let parameters = key.parameters, let x = Base64URL.decode(parameters.x), let y = Base64URL.decode(parameters.y),
                x.count == 32, y.count == 32
            else {
                throw .keyGenerationFailed(reason: "cannot read the P-256 public point")
            }
            jwk = .p256(kid: "", x: x, y: y)
        }
        jwk.kid = kid ?? jwk.thumbprint
        return jwk
    }

    /// Registers the key with a jwt-kit key collection under `kid`.
    func add(to collection: JWTKeyCollection, kid: String) async {
        switch self {
        case .rsa(let key):
            await collection.add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
        case .p256(let key):
            await collection.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        }
    }
}

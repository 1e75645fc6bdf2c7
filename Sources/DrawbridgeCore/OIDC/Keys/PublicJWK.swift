import Crypto
import Foundation

/// The public half of a signing key as a JWK (RFC 7517/7518), rendered by us because jwt-kit's `JWK` has no
/// `use` member and encodes its keys in random order.
struct PublicJWK: Codable, Equatable, Sendable {
    var kty: String
    var alg: String
    var use: String
    var kid: String
    /// RSA modulus and exponent: unsigned big-endian, no leading zero bytes, base64url.
    var n: String?
    var e: String?
    /// EC curve and coordinates: each coordinate the full 32 bytes for P-256, base64url.
    var crv: String?
    var x: String?
    var y: String?

    static func rsa(kid: String, modulus: [UInt8], exponent: [UInt8]) -> PublicJWK {
        PublicJWK(
            kty: "RSA", alg: SigningAlgorithm.rs256.rawValue, use: "sig", kid: kid,
            n: Base64URL.encode(modulus.drop { $0 == 0 }), e: Base64URL.encode(exponent.drop { $0 == 0 })
        )
    }

    static func p256(kid: String, x: [UInt8], y: [UInt8]) -> PublicJWK {
        PublicJWK(
            kty: "EC", alg: SigningAlgorithm.es256.rawValue, use: "sig", kid: kid,
            crv: "P-256", x: Base64URL.encode(x), y: Base64URL.encode(y)
        )
    }

    /// RFC 7638: SHA-256 over the required members in lexicographic order, without whitespace, base64url.
    /// The member values are base64url or fixed names, so they need no JSON escaping.
    var thumbprint: String {
        let canonical: String
        if kty == "RSA" {
            canonical = #"{"e":"\#(e ?? "")","kty":"RSA","n":"\#(n ?? "")"}"#
        } else {
            canonical = #"{"crv":"\#(crv ?? "")","kty":"EC","x":"\#(x ?? "")","y":"\#(y ?? "")"}"#
        }
        return Base64URL.encode(SHA256.hash(data: Array(canonical.utf8)))
    }

    /// Compact JSON with sorted keys.
    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Only strings: encoding cannot fail.
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    init(kty: String, alg: String, use: String, kid: String, n: String? = nil, e: String? = nil, crv: String? = nil, x: String? = nil, y: String? = nil) {
        self.kty = kty
        self.alg = alg
        self.use = use
        self.kid = kid
        self.n = n
        self.e = e
        self.crv = crv
        self.x = x
        self.y = y
    }

    init?(json: String) {
        guard let decoded = try? JSONDecoder().decode(PublicJWK.self, from: Data(json.utf8)) else { return nil }
        self = decoded
    }
}

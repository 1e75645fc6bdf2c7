import DrawbridgeCore
import Foundation
import Testing

@Suite struct TokenTests {
    @Test func secretTokensAre256RandomBits() {
        let a = SecretToken(), b = SecretToken()
        #expect(a != b)
        #expect(a.value.count == 43)
        #expect(Base64URL.decode(a.value)?.count == 32)
        #expect(a.digest.count == 32)
        #expect(SecretToken(presented: a.value) == a)
        #expect(SecretToken(presented: "short") == nil)
        #expect(SecretToken(presented: String(repeating: "*", count: 43)) == nil)
    }

    /// Every length, against Foundation's base64 with the URL alphabet and no padding (RFC 4648 §5), both ways;
    /// anything outside the alphabet, padding included, is refused.
    @Test func base64URLAgreesWithFoundationAndRefusesOtherText() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let expected = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(Base64URL.encode(bytes) == expected)
            #expect(Base64URL.decode(expected) == bytes)
        }
        #expect(Base64URL.encode(Array("\u{FB}\u{FF}".utf8)) == "w7vDvw")
        for bad in ["ab+c", "ab/c", "abc=", "a", "abcde", "ab c", "é"] { #expect(Base64URL.decode(bad) == nil, "\(bad)") }
        #expect(Base64URL.decode("") == [])
    }

    @Test func csrfTokensAreBoundToSecretAndPurpose() {
        let secret = SecretToken().value
        let token = CSRFToken.derive(from: secret, purpose: "login")
        #expect(CSRFToken.isValid(token, secret: secret, purpose: "login"))
        #expect(!CSRFToken.isValid(token, secret: secret, purpose: "logout"))
        #expect(!CSRFToken.isValid(token, secret: SecretToken().value, purpose: "login"))
        #expect(!CSRFToken.isValid(nil, secret: secret, purpose: "login"))
        #expect(!CSRFToken.isValid(token, secret: nil, purpose: "login"))
        #expect(!CSRFToken.isValid(secret, secret: secret, purpose: "login"))
    }
}

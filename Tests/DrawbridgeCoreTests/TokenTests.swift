import DrawbridgeCore
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

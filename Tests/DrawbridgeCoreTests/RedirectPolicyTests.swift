import DrawbridgeCore
import Testing

@Suite struct RedirectPolicyTests {
    let policy = RedirectPolicy(publicURL: try! PublicURL(parsing: "https://sso.example.com"), cookieDomain: "example.com")

    @Test(arguments: [
        "https://chat.example.com/oauth/gitlab/login",
        "https://example.com/",
        "https://deep.sub.example.com:8443/x?y=1#z",
        "HTTPS://CHAT.EXAMPLE.COM/path",
    ])
    func allowsHTTPSInsideTheCookieDomain(_ target: String) {
        #expect(policy.validated(target) == target)
    }

    @Test func relativePathsStayOnDrawbridge() {
        #expect(policy.target(for: "/oauth/authorize?client_id=x") == "https://sso.example.com/oauth/authorize?client_id=x")
    }

    @Test(arguments: [
        "https://evil.test/",
        "https://example.com.evil.test/",
        "https://notexample.com/",
        "//evil.test/",
        "/\\evil.test/",
        "http://chat.example.com/",
        "javascript:alert(1)",
        "https://user@chat.example.com/",
        "https://evil.test\\@chat.example.com/",
        "https://chat.example.com%2eevil.test/",
        "https://chat.example.com/\nSet-Cookie: x",
        "data:text/html,hi",
        "",
        " https://chat.example.com/",
    ])
    func fallsBackToTheDefaultPageForAnythingElse(_ target: String) {
        #expect(policy.validated(target) == nil)
        #expect(policy.target(for: target) == "https://sso.example.com/")
    }

    @Test func withoutCookieDomainOnlyDrawbridgesOwnHost() {
        let local = RedirectPolicy(publicURL: try! PublicURL(parsing: "http://127.0.0.1:8080"), cookieDomain: nil)
        #expect(local.validated("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080/x")
        #expect(local.validated("http://localhost:8080/x") == nil)
        #expect(local.target(for: nil) == "http://127.0.0.1:8080/")
    }
}

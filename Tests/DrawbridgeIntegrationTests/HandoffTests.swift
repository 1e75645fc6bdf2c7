import DrawbridgeCore
import DrawbridgeServer
import Foundation
import NIOHTTP1
import Testing

/// The hand-off API: the platform's backend trades a service token and a user for a one-time sign-in URL,
/// and a browser visiting it gets the shared-domain session cookie and lands where the platform asked.
@Suite struct HandoffTests {
    static let chat = "https://chat.example.com/town-square"

    func withToken(_ body: @Sendable (Browser, AppDependencies, TestDatabases, String) async throws -> Void) async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, databases in
            let token = try await dependencies.serviceTokens.add(name: "platform")
            try await body(browser, dependencies, databases, token.value)
        }
    }

    func handoff(_ browser: Browser, token: String?, json: String, contentType: String = "application/json") async throws -> WebResponse {
        var headers = [("Content-Type", contentType)]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        return try await browser.send(.POST, "/api/v1/handoff", body: json, headers: headers)
    }

    /// The code in a hand-off URL, as a path on the gateway.
    func path(of response: WebResponse) throws -> String {
        let url = try #require(OAuthTestSupport.json(response)["url"] as? String)
        #expect(url.hasPrefix("https://sso.example.com/handoff/"))
        return try #require(URLComponents(string: url)?.path)
    }

    @Test func aHandoffURLSignsTheBrowserInOnceAndSendsItOn() async throws {
        try await withToken { api, _, _, token in
            let issued = try await handoff(api, token: token, json: #"{"user": "alice", "redirect": "\#(Self.chat)"}"#)
            #expect(issued.status == 201, "\(issued.body)")
            #expect(issued.header("Cache-Control") == "no-store")
            let body = OAuthTestSupport.json(issued)
            #expect(body["expires_in"] as? Int == 60)
            #expect(body["user_id"] as? String == "1")
            let link = try path(of: issued)

            let browser = Browser(port: api.port, publicURL: api.publicURL)
            let visit = try await browser.get(link)
            #expect(visit.status == 303)
            #expect(visit.location == Self.chat)
            let cookie = try #require(visit.setCookie(named: "drawbridge_session"))
            #expect(cookie.attributes["domain"] == "example.com")
            #expect(cookie.attributes["samesite"] == "Lax")
            #expect(cookie.attributes.keys.contains("secure") && cookie.attributes.keys.contains("httponly"))
            // The cookie is a real session: forward auth lets the browser into chat as alice.
            let verify = try await browser.get("/auth/verify")
            #expect(verify.status == 200)
            #expect(verify.header("Remote-User") == "alice")

            // A reload by the same browser goes on without a new session; anyone else gets the expired page.
            let reload = try await browser.get(link)
            #expect(reload.status == 303 && reload.location == Self.chat && reload.setCookie(named: "drawbridge_session") == nil)
            let stranger = Browser(port: api.port, publicURL: api.publicURL)
            let replay = try await stranger.get(link)
            #expect(replay.status == 400)
            #expect(replay.body.contains("This sign-in link has expired"))
            #expect(replay.setCookie(named: "drawbridge_session") == nil && replay.location == nil)
        }
    }

    @Test func twoConcurrentVisitsOfOneLinkMakeOneSession() async throws {
        try await withToken { api, _, databases, token in
            let link = try path(of: try await handoff(api, token: token, json: #"{"user": "erin", "redirect": "/"}"#))
            let visits = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await Browser(port: api.port, publicURL: api.publicURL).get(link).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(visits.sorted() == [303] + Array(repeating: 400, count: 7))
            let sessions = try await TestDatabases.strings("SELECT count(*)::text FROM drawbridge.sessions WHERE login = 'erin'", on: databases.drawbridgeURL)
            #expect(sessions == ["1"])
        }
    }

    @Test func anExpiredLinkSignsNobodyIn() async throws {
        try await withToken { api, _, databases, token in
            let link = try path(of: try await handoff(api, token: token, json: #"{"user": "alice", "redirect": "/"}"#))
            try await TestDatabases.execute("UPDATE drawbridge.handoffs SET expires_at = now() - interval '1 second'", on: databases.drawbridgeURL)
            let visit = try await Browser(port: api.port, publicURL: api.publicURL).get(link)
            #expect(visit.status == 400)
            #expect(visit.setCookie(named: "drawbridge_session") == nil)
        }
    }

    @Test func aUserDeactivatedAfterTheLinkWasMadeIsNotSignedIn() async throws {
        try await withToken { api, _, databases, token in
            let link = try path(of: try await handoff(api, token: token, json: #"{"user": "erin@example.com", "redirect": "/"}"#))
            try await TestDatabases.execute("UPDATE public.accounts SET is_active = false WHERE login = 'erin'", on: databases.platformURL)
            let visit = try await Browser(port: api.port, publicURL: api.publicURL).get(link)
            #expect(visit.status == 400)
            #expect(visit.setCookie(named: "drawbridge_session") == nil)
        }
    }

    @Test func badRequestsGetClearErrorsAndNoLink() async throws {
        try await withToken { api, dependencies, databases, token in
            let missing = try await handoff(api, token: nil, json: #"{"user": "alice", "redirect": "/"}"#)
            #expect(missing.status == 401)
            #expect(missing.header("WWW-Authenticate") == #"Bearer realm="drawbridge""#)

            let wrong = try await handoff(api, token: "dbt_" + SecretToken().value, json: #"{"user": "alice", "redirect": "/"}"#)
            #expect(wrong.status == 401)
            #expect(wrong.header("WWW-Authenticate")?.contains(#"error="invalid_token""#) == true)

            let cases: [(json: String, status: Int, error: String)] = [
                (#"{"user": "nobody", "redirect": "/"}"#, 404, "unknown_user"),
                (#"{"user": "frank", "redirect": "/"}"#, 403, "inactive_user"),
                (#"{"user": "alice", "redirect": "https://evil.example.net/"}"#, 400, "redirect_not_allowed"),
                (#"{"user": "alice", "redirect": "//evil.example.net/"}"#, 400, "redirect_not_allowed"),
                (#"{"user": "alice", "redirect": "javascript:alert(1)"}"#, 400, "redirect_not_allowed"),
                (#"{"user": "alice"}"#, 400, "invalid_request"),
                (#"{"user": "alice", "redirect": "/", "match": "email"}"#, 400, "invalid_request"),
                (#"not json"#, 400, "invalid_request"),
                (#"{"user": "al\u0000ice", "redirect": "/"}"#, 400, "invalid_request"),
                (#"{"user": "alice", "redirect": "/\u0000"}"#, 400, "redirect_not_allowed"),
                (#"{"user": "alice", "redirect": "/", "match": null}"#, 400, "invalid_request"),
                (#"{"user": "1", "redirect": "/", "match": "login"}"#, 404, "unknown_user"),
            ]
            for item in cases {
                let response = try await handoff(api, token: token, json: item.json)
                let error = OAuthTestSupport.json(response)["error"] as? String
                #expect(response.status == item.status, "\(item.json): \(response.body)")
                #expect(error == item.error, "\(item.json)")
            }
            let form = try await handoff(api, token: token, json: "user=alice&redirect=/", contentType: "application/x-www-form-urlencoded")
            #expect(form.status == 415)
            let wrongMethod = try await api.get("/api/v1/handoff")
            #expect(wrongMethod.status == 405 && wrongMethod.header("Allow") == "POST")

            // An id is matched as an id; a login that is also someone's id is refused as ambiguous.
            let byID = try await handoff(api, token: token, json: #"{"user": "2", "redirect": "/"}"#)
            #expect(OAuthTestSupport.json(byID)["user_id"] as? String == "2")
            try await TestDatabases.execute("INSERT INTO public.accounts (login, email, full_name) VALUES ('3', 'three@example.com', 'Three')", on: databases.platformURL)
            let ambiguous = try await handoff(api, token: token, json: #"{"user": "3", "redirect": "/"}"#)
            #expect(ambiguous.status == 409)
            let explicit = try await handoff(api, token: token, json: #"{"user": "3", "redirect": "/", "match": "login"}"#)
            #expect(OAuthTestSupport.json(explicit)["user_id"] as? String == "7")

            // Nothing failed above made a link.
            let links = try await TestDatabases.strings("SELECT count(*)::text FROM drawbridge.handoffs", on: databases.drawbridgeURL)
            #expect(links == ["2"])

            // A revoked token stops working at once.
            #expect(try await dependencies.serviceTokens.revoke(name: "platform"))
            let revoked = try await handoff(api, token: token, json: #"{"user": "alice", "redirect": "/"}"#)
            #expect(revoked.status == 401)
        }
    }

    @Test func tokensAreKeptOnlyAsHashesAndManagedFromTheCommandLine() async throws {
        try await TestDatabases.withFresh { databases in
            try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
            let config = try CommandRunner.writeConfig(databases)
            #expect(try CommandRunner.run(["migrate", "--config", config]).status == 0)
            let added = try CommandRunner.run(["tokens", "add", "--name", "platform", "--config", config, "--json"])
            #expect(added.status == 0, "\(added.stderr)")
            let token = try #require((try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any])?["token"] as? String)
            #expect(token.hasPrefix("dbt_") && token.count == 47)
            let stored = try await TestDatabases.strings("SELECT encode(token_hash, 'hex') FROM drawbridge.service_tokens", on: databases.drawbridgeURL)
            #expect(stored == [SecretToken.sha256(token).map { String(format: "%02x", $0) }.joined()])

            let again = try CommandRunner.run(["tokens", "add", "--name", "platform", "--config", config])
            #expect(again.status == 1)
            #expect(again.stderr.contains("a token named 'platform' already exists"))
            let badName = try CommandRunner.run(["tokens", "add", "--name", "Platform Backend", "--config", config])
            #expect(badName.status != 0)
            #expect(badName.stderr.contains("is not a token name"))

            let list = try CommandRunner.run(["tokens", "list", "--config", config])
            #expect(list.stdout.contains("platform") && list.stdout.contains("live") && !list.stdout.contains(token))
            #expect(try CommandRunner.run(["tokens", "revoke", "--name", "platform", "--config", config]).status == 0)
            let twice = try CommandRunner.run(["tokens", "revoke", "--name", "platform", "--config", config])
            #expect(twice.status == 1)
            #expect(twice.stderr.contains("no live token named 'platform'"))
            // A revoked name can be given to a new token.
            #expect(try CommandRunner.run(["tokens", "add", "--name", "platform", "--config", config]).status == 0)
        }
    }
}

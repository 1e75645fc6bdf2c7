import DrawbridgeCore
import Foundation
import Testing

/// Two `drawbridge serve` processes over one Postgres behave as one: a sign-in on one is a session on the
/// other, and a sign-out or token revocation on one is refused by the other within one second (each
/// replica caches hot look-ups for one second at most, and reads Postgres after that).
@Suite struct ReplicaTests {
    static let redirect = "https://chat.example.com/signup/gitlab/complete"

    @Test func aRevocationOnOneReplicaIsRefusedByTheOtherWithinASecond() async throws {
        let databases = try await TestDatabases.create()
        do {
            try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
            let config = try CommandRunner.writeConfig(databases)
            #expect(try CommandRunner.run(["migrate", "--config", config]).status == 0)
            let added = try CommandRunner.run(["clients", "add", "--config", config, "--name", "Chat", "--client-id", "replica-chat",
                                               "--redirect-uri", Self.redirect, "--trusted", "--json"])
            let secret = try #require((try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: String])?["client_secret"], "\(added.stderr)")
            let (portA, portB) = (try CommandRunner.freePort(), try CommandRunner.freePort())
            let logA = Pipe(), logB = Pipe()
            let replicaA = try await CommandRunner.startServe(config: config, port: portA, log: logA, environment: ["DRAWBRIDGE_HTTP_PORT": "\(portA)"])
            defer { replicaA.terminate() }
            let replicaB = try await CommandRunner.startServe(config: config, port: portB, log: logB, environment: ["DRAWBRIDGE_HTTP_PORT": "\(portB)"])
            defer { replicaB.terminate() }
            let publicURL = try PublicURL(parsing: "https://sso.example.com")
            let onA = Browser(port: portA, publicURL: publicURL), onB = Browser(port: portB, publicURL: publicURL)

            // Signed in on A; B knows the session (the same cookie, as the browser would send it to either).
            #expect(try await onA.signIn(username: "alice", password: PlatformFixture.password).status == 303)
            onB.setCookie("drawbridge_session", try #require(onA.sessionToken))
            #expect(try await onB.get("/auth/verify").header("Remote-User") == "alice")

            // A token issued through A works on B, until A revokes it (RFC 7009).
            let authorize = try await onA.get("/oauth/authorize?response_type=code&client_id=replica-chat&redirect_uri=\(RedirectURIBuilder.percentEncode(Self.redirect))&state=s")
            let code = try #require(authorize.location.flatMap { URLComponents(string: $0)?.queryItems?.first { $0.name == "code" }?.value })
            let tokens = try await onB.post("/oauth/token", form: [
                "grant_type": "authorization_code", "code": code, "redirect_uri": Self.redirect, "client_id": "replica-chat", "client_secret": secret,
            ])
            let access = try #require(OAuthTestSupport.json(tokens)["access_token"] as? String, "\(tokens.body)")
            let bearer = [("Authorization", "Bearer \(access)")]
            #expect(try await onB.get("/api/v4/user", headers: bearer).status == 200, "B has the token cached now")
            let revoked = try await onA.post("/oauth/revoke", form: ["token": access, "client_id": "replica-chat", "client_secret": secret])
            #expect(revoked.status == 200)
            let tokenRefusedAfter = try await Self.secondsUntil { try await onB.get("/api/v4/user", headers: bearer).status == 401 }
            #expect(tokenRefusedAfter < 1.5, "B refused the revoked token after \(tokenRefusedAfter) s")

            // Signing out on A ends the session on B too.
            #expect(try await onB.get("/auth/verify").status == 200, "B has the session cached now")
            let page = try await onA.get("/logout")
            let out = try await onA.post("/logout", form: ["csrf": try #require(page.hiddenField("csrf"))])
            #expect(out.status == 303)
            let sessionRefusedAfter = try await Self.secondsUntil { try await onB.get("/auth/verify").status == 401 }
            #expect(sessionRefusedAfter < 1.5, "B refused the ended session after \(sessionRefusedAfter) s")
        } catch {
            await databases.drop()
            throw error
        }
        await databases.drop()
    }

    /// Seconds until `condition` holds, polling every 50 ms; fails the test after 5 s.
    static func secondsUntil(_ condition: () async throws -> Bool) async throws -> Double {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(5) {
            if try await condition() {
                let elapsed = ContinuousClock.now - start
                return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the condition never held within 5 s")
        return 5
    }
}

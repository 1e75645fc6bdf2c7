import DrawbridgeCore
import Foundation
import Testing

/// Two `drawbridge serve` processes over one Postgres behave as one: a sign-in on one is a session on the
/// other, and a sign-out or token revocation on one is refused by the other within one second. Each replica
/// caches hot look-ups; the writer's trigger NOTIFYs every replica, whose listener drops its copy at once.
/// Serialized: the measured times are the point, and six replicas at once on a small machine would blur them.
@Suite(.serialized) struct ReplicaTests {
    static let redirect = "https://chat.example.com/signup/gitlab/complete"

    /// How the replicas are configured, and how soon the other replica must refuse.
    enum Setup: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// The defaults: one-second caches and NOTIFY.
        case defaults
        /// 30-second caches: only NOTIFY can make the refusal land within a second.
        case longLifetime
        /// No listener (a pooler that cannot LISTEN): the one-second lifetime alone is the bound.
        case lifetimeOnly

        var yaml: String {
            switch self {
            case .defaults: ""
            case .longLifetime: "\ncache: { lifetime: 30s }"
            case .lifetimeOnly: "\ncache: { listen: false }"
            }
        }

        /// The lifetime alone: one second (less up to a fifth of jitter), plus a request's time.
        var bound: Double { self == .lifetimeOnly ? 1.5 : 1.0 }
        var listens: Bool { self != .lifetimeOnly }
        var testDescription: String { rawValue }
    }

    @Test(arguments: Setup.allCases)
    func aRevocationOnOneReplicaIsRefusedByTheOtherWithinASecond(_ setup: Setup) async throws {
        try await TestDatabases.withFresh { databases in
            try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
            let config = try CommandRunner.writeConfig(databases) { $0 + setup.yaml }
            #expect(try CommandRunner.run(["migrate", "--config", config]).status == 0)
            let added = try CommandRunner.run(["clients", "add", "--config", config, "--name", "Chat", "--client-id", "replica-chat",
                                               "--redirect-uri", Self.redirect, "--trusted", "--json"])
            let secret = try #require((try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: String])?["client_secret"], "\(added.stderr)")
            try await ReplicaTests.withTwoReplicas(config: config) { portA, portB in
                let publicURL = try PublicURL(parsing: "https://sso.example.com")
                let onA = Browser(port: portA, publicURL: publicURL), onB = Browser(port: portB, publicURL: publicURL)
                if setup.listens {
                    for replica in [onA, onB] { try await Self.waitUntilListening(replica) }
                }

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
                #expect(tokenRefusedAfter < setup.bound, "B refused the revoked token after \(tokenRefusedAfter) s")

                // Signing out on A ends the session on B too.
                #expect(try await onB.get("/auth/verify").status == 200, "B has the session cached now")
                let page = try await onA.get("/logout")
                let out = try await onA.post("/logout", form: ["csrf": try #require(page.hiddenField("csrf"))])
                #expect(out.status == 303)
                let sessionRefusedAfter = try await Self.secondsUntil { try await onB.get("/auth/verify").status == 401 }
                #expect(sessionRefusedAfter < setup.bound, "B refused the ended session after \(sessionRefusedAfter) s")
                // Measured figures, for the record (README's replica section quotes them).
                print("ReplicaTests[\(setup.rawValue)]: token refused by B after \(tokenRefusedAfter) s, session after \(sessionRefusedAfter) s")
            }
        }
    }

    /// Two `drawbridge serve` processes on one config (DRAWBRIDGE_HTTP_PORT tells them apart), both stopped
    /// when `body` returns or throws.
    static func withTwoReplicas(config: String, _ body: (_ portA: Int, _ portB: Int) async throws -> Void) async throws {
        let (portA, portB) = (try CommandRunner.freePort(), try CommandRunner.freePort())
        let logA = Pipe(), logB = Pipe()
        let replicaA = try await CommandRunner.startServe(config: config, port: portA, log: logA, environment: ["DRAWBRIDGE_HTTP_PORT": "\(portA)"])
        defer { replicaA.terminate() }
        let replicaB = try await CommandRunner.startServe(config: config, port: portB, log: logB, environment: ["DRAWBRIDGE_HTTP_PORT": "\(portB)"])
        defer { replicaB.terminate() }
        try await body(portA, portB)
    }

    /// Until the replica's NOTIFY listener is in place (its /metrics gauge), so the timing measures notices.
    static func waitUntilListening(_ replica: Browser) async throws {
        for _ in 0..<100 {
            let metrics = try await replica.get("/metrics").body
            let gauge = metrics.split(separator: "\n").first { $0.hasPrefix("drawbridge_cache_invalidation_listening ") }
            if let gauge, gauge.split(separator: " ").last.flatMap({ Double($0) }) == 1 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSetupError("the replica's cache invalidation listener never started")
    }

    /// Seconds until `condition` holds, polling every 10 ms; fails the test after 5 s.
    static func secondsUntil(_ condition: () async throws -> Bool) async throws -> Double {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(5) {
            if try await condition() {
                let elapsed = ContinuousClock.now - start
                return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the condition never held within 5 s")
        return 5
    }
}

import Crypto
import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// The `webhook` connector end to end: a live gateway posts its events to a receiver running inside the test
/// (a Hummingbird server on a loopback port) that records what arrives and answers what the test tells it.
/// The signature is checked the way a receiver would, with swift-crypto's HMAC, not Drawbridge's own code.
@Suite struct WebhookConnectorTests {
    static let secret = "whsec-test-5b1f0c"

    /// A webhook receiver: records each delivery, answers `status` (200 by default) with `{"id": "hook-<platform_id>"}`.
    final class Receiver: Sendable {
        struct Delivery: Sendable {
            var headers: [String: String]
            var body: [UInt8]
            var status: Int

            var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
            var event: String? { json["event"] as? String }
            var user: [String: Any] { json["user"] as? [String: Any] ?? [:] }
        }

        private let state = Mutex((deliveries: [Delivery](), status: 200))

        var deliveries: [Delivery] { state.withLock { $0.deliveries } }
        func answer(_ status: Int) { state.withLock { $0.status = status } }

        func receive(headers: [String: String], body: [UInt8]) -> (Int, String) {
            let status = state.withLock { state in
                state.deliveries.append(Delivery(headers: headers, body: body, status: state.status))
                return state.status
            }
            let user = Delivery(headers: headers, body: body, status: status).user
            return (status, status == 200 ? #"{"id": "hook-\#(user["platform_id"] as? String ?? "?")"}"# : #"{"error": "receiver says \#(status)"}"#)
        }
    }

    /// A receiver on a loopback port, a gateway whose `webhook` connector posts to it, for the duration of `body`.
    func withWebhook(
        _ body: @Sendable (Browser, AppDependencies, TestDatabases, Receiver) async throws -> Void
    ) async throws {
        let receiver = Receiver()
        let router = Router()
        router.post("/hooks/drawbridge") { request, _ -> Response in
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let (status, answer) = receiver.receive(headers: headers, body: Array(buffer: bytes))
            return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            try await OAuthTestSupport.withGateway(configure: { configuration in
                configuration.provisioning = ProvisioningConfiguration(
                    connectors: [.webhook(name: "audit", WebhookConnector.Settings(url: "http://127.0.0.1:\(port)/hooks/drawbridge", secret: Self.secret, timeout: .seconds(5)))],
                    settings: ProvisioningSettings(waitBudget: .seconds(8), maxAttempts: 6, concurrency: 4, pollInterval: .milliseconds(200))
                )
            }) { browser, dependencies, databases in
                try await body(browser, dependencies, databases, receiver)
            }
        }
    }

    /// What a receiver does with `X-Drawbridge-Signature: t=…,v1=…`: recompute HMAC-SHA256(secret, "t.body").
    static func verifies(_ delivery: Receiver.Delivery, secret: String) -> Bool {
        guard let header = delivery.headers["x-drawbridge-signature"] else { return false }
        var parts: [String: String] = [:]
        for item in header.split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { parts[pair[0]] = pair[1] }
        }
        guard let t = parts["t"], let v1 = parts["v1"] else { return false }
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(t).".utf8) + delivery.body, using: SymmetricKey(data: Array(secret.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined() == v1
    }

    static func jobs(_ databases: TestDatabases) async throws -> [String] {
        try await TestDatabases.strings(
            "SELECT action || ':' || state || ':' || attempts || ':' || coalesce(last_error, '') FROM drawbridge.provisioning_jobs ORDER BY id",
            on: databases.drawbridgeURL)
    }

    @Test func aSignInDeliversASignedUserProvisionedEvent() async throws {
        try await withWebhook { browser, _, databases, receiver in
            #expect(try await browser.signIn(username: "alice", password: PlatformFixture.password).status == 303)
            // The sign-in waited for its job (budget 8 s): the event has arrived.
            let delivery = try #require(receiver.deliveries.first, "delivered during the sign-in")
            #expect(receiver.deliveries.count == 1)
            #expect(delivery.event == "user.provisioned")
            #expect(delivery.headers["x-drawbridge-event"] == "user.provisioned")
            #expect(delivery.headers["content-type"] == "application/json")
            #expect(delivery.json["connector"] as? String == "audit")
            let occurredAt = try #require(delivery.json["occurred_at"] as? Int)
            #expect(abs(Int(Date().timeIntervalSince1970) - occurredAt) < 600, "a unix time in seconds")
            let user = delivery.user
            #expect(user["platform_id"] as? String == "1")
            #expect(user["sub"] as? String == "1")
            #expect(user["numeric_id"] as? Int == 1)
            #expect(user["username"] as? String == "alice")
            #expect(user["email"] as? String == "alice@example.com")
            #expect(user["name"] as? String == "Alice Liddell")
            #expect(user["given_name"] as? String == "Alice")
            #expect(user["family_name"] as? String == "Liddell")
            #expect(user["active"] as? Bool == true)

            // The signature: the same timestamp as the body's, and it verifies with the secret only.
            let signature = try #require(delivery.headers["x-drawbridge-signature"])
            #expect(signature.hasPrefix("t=\(occurredAt),v1="), "\(signature)")
            #expect(Self.verifies(delivery, secret: Self.secret), "HMAC-SHA256(secret, t.body) matches v1: \(signature)")
            #expect(!Self.verifies(delivery, secret: "another-secret"))
            var tampered = delivery
            tampered.body = Array(String(decoding: delivery.body, as: UTF8.self).replacingOccurrences(of: "alice@example.com", with: "mallory@example.com").utf8)
            #expect(!Self.verifies(tampered, secret: Self.secret), "a changed body no longer verifies")

            #expect(try await Self.jobs(databases) == ["provision:done:1:"])
            let link = try await TestDatabases.strings(
                "SELECT chat_user_id || '|' || username || '|' || active::text FROM drawbridge.chat_accounts WHERE connector = 'audit' AND platform_user_id = '1'",
                on: databases.drawbridgeURL)
            #expect(link == ["hook-1|alice|true"], "the receiver's id names the account")
        }
    }

    @Test func aDeactivatedPlatformUserIsAUserDeactivatedEvent() async throws {
        try await withWebhook { browser, dependencies, databases, receiver in
            _ = try await browser.signIn(username: "erin", password: PlatformFixture.password)
            try await OAuthTestSupport.register(dependencies, id: "chat-client", redirectURIs: [OAuthTestSupport.chatRedirect])
            try await TestDatabases.execute("UPDATE public.accounts SET is_active = false WHERE login = 'erin'", on: databases.platformURL)
            let refused = try await browser.get("/oauth/authorize?response_type=code&client_id=chat-client&state=s")
            #expect(refused.location.flatMap { OAuthTestSupport.goQueryGet($0, "error") } == "access_denied")
            let arrived = try await ProvisioningUpdateTests.eventually { receiver.deliveries.contains { $0.event == "user.deactivated" } }
            #expect(arrived, "events: \(receiver.deliveries.map { $0.event ?? "?" })")
            let delivery = try #require(receiver.deliveries.last { $0.event == "user.deactivated" })
            #expect(delivery.headers["x-drawbridge-event"] == "user.deactivated")
            #expect(delivery.user["platform_id"] as? String == "2")
            #expect(delivery.user["id"] as? String == "hook-2", "names the account by the receiver's id")
            #expect(delivery.user["username"] as? String == "erin")
            #expect(Self.verifies(delivery, secret: Self.secret))
            // The refused authorize also ended erin's session everywhere (single logout): a user.logged_out too. The
            // two jobs run side by side, so they may arrive in either order.
            #expect(receiver.deliveries.map { $0.event ?? "?" }.sorted() == ["user.deactivated", "user.logged_out", "user.provisioned"])
            let settled = try await ProvisioningUpdateTests.eventually {
                try await Self.jobs(databases) == ["provision:done:1:", "revoke_sessions:done:1:", "deactivate:done:1:"]
            }
            let jobs = try await Self.jobs(databases)
            #expect(settled, "\(jobs)")
        }
    }

    @Test func aReceiverAnswering500IsRetriedUntilItAnswers200() async throws {
        try await withWebhook { browser, _, databases, receiver in
            receiver.answer(500)
            #expect(try await browser.signIn(username: "alice", password: PlatformFixture.password).status == 303, "the sign-in does not fail for it")
            // Pending, with the reason, and tried again (attempts grows).
            let retried = try await ProvisioningUpdateTests.eventually {
                let jobs = try await Self.jobs(databases)
                return jobs.count == 1 && jobs[0].hasPrefix("provision:pending:") && !jobs[0].hasPrefix("provision:pending:1:") && receiver.deliveries.count >= 2
            }
            let pending = try await Self.jobs(databases)
            #expect(retried, "\(pending)")
            #expect(pending.first?.contains("chat server unavailable") == true && pending.first?.contains("500") == true, "last_error says why: \(pending)")
            #expect(receiver.deliveries.allSatisfy { $0.event == "user.provisioned" && $0.status == 500 })
            #expect(receiver.deliveries.allSatisfy { Self.verifies($0, secret: Self.secret) }, "every retry is signed afresh")

            receiver.answer(200)
            let landed = try await ProvisioningUpdateTests.eventually { try await Self.jobs(databases).first?.hasPrefix("provision:done:") == true }
            let done = try await Self.jobs(databases)
            #expect(landed, "\(done)")
            #expect(done.first?.hasSuffix(":") == true, "last_error cleared: \(done)")
            #expect(receiver.deliveries.last?.status == 200)
            #expect(receiver.deliveries.filter { $0.status == 200 }.count == 1, "delivered once it was accepted, not again")
            #expect(try await TestDatabases.strings("SELECT chat_user_id FROM drawbridge.chat_accounts WHERE connector = 'audit'", on: databases.drawbridgeURL) == ["hook-1"])
        }
    }

    @Test func aReceiverAnswering401FailsTheJobWithAClearError() async throws {
        try await withWebhook { browser, _, databases, receiver in
            receiver.answer(401)
            #expect(try await browser.signIn(username: "alice", password: PlatformFixture.password).status == 303)
            let failed = try await ProvisioningUpdateTests.eventually { try await Self.jobs(databases).first?.hasPrefix("provision:failed:") == true }
            let jobs = try await Self.jobs(databases)
            #expect(failed, "\(jobs)")
            #expect(jobs.first?.hasPrefix("provision:failed:1:") == true, "not retried: a 401 will not fix itself: \(jobs)")
            // The operator reads which webhook, which event and what the receiver said.
            let error = String(jobs.first?.split(separator: ":", maxSplits: 3).last ?? "")
            #expect(error.contains("audit") && error.contains("401") && error.contains("user.provisioned") && error.contains("receiver says 401"), "\(error)")
            #expect(!error.contains("admin token"), "a webhook has a signing secret, not an admin token: \(error)")
            #expect(receiver.deliveries.count == 1)
            #expect(try await TestDatabases.strings("SELECT count(*)::text FROM drawbridge.chat_accounts", on: databases.drawbridgeURL) == ["0"])
        }
    }
}

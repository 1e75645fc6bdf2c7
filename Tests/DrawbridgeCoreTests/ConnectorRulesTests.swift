import DrawbridgeCore
import Testing

/// Rules the connectors apply before any chat server is called: Synapse's reserved localparts, the retry
/// schedule's jitter, and how a chat server's answer is cut down to a one-line error.
@Suite struct ConnectorRulesTests {
    @Test(arguments: [
        ("alice", "alice"), ("alice.smith", "alice.smith"), ("10042", "u-10042"), ("_bob", "u-_bob"), ("007bond", "007bond"),
        ("user-42", "user-42"), ("a_b", "a_b"),
    ])
    func synapseLocalpartsAvoidWhatSynapseReserves(_ username: String, _ expected: String) {
        let localpart = SynapseConnector.localpart(for: username)
        #expect(localpart == expected)
        #expect(SynapseConnector.localpart(for: localpart) == localpart, "idempotent")
        // Synapse's check_username: not all digits (guest ids), no leading underscore (appservice namespaces).
        #expect(!localpart.allSatisfy(\.isNumber) && localpart.first != "_")
    }

    @Test func synapseUserIDsUseTheLocalpart() {
        let connector = SynapseConnector(settings: .init(url: "http://127.0.0.1:1", token: "t", serverName: "example.test"))
        let profile = UserProfile(user: PlatformUser(id: "7", login: "10042", email: "n@example.com", name: "Numbers", passwordHash: nil, isActive: true), numericID: 7)
        #expect(connector.userID(for: ChatUser(profile: profile, isActive: true)) == "@u-10042:example.test")
    }

    @Test func retriesBackOffExponentiallyWithJitterUpToTheCap() {
        for attempt in 1...12 {
            let ceiling = min(2.0 * Double(1 << (attempt - 1)), 600)
            let delays = (0..<50).map { _ in RetrySchedule.delay(afterAttempt: attempt).fractionalSeconds }
            #expect(delays.allSatisfy { $0 >= ceiling / 2 - 0.001 && $0 <= ceiling + 0.001 }, "attempt \(attempt): \(delays.min()!)–\(delays.max()!)")
            #expect(Set(delays).count > 1, "jittered, so replicas retrying after one outage spread out")
        }
    }

    @Test func chatServerAnswersBecomeOneLine() {
        #expect(ResponseText.oneLine("  {\"id\": \"x\",\n  \"message\": \"no\"}\n") == "{\"id\": \"x\", \"message\": \"no\"}")
        #expect(ResponseText.oneLine("<html>\n<head><title>401 Authorization\nRequired</title></head><body>…</body></html>") == "an HTML page titled \"401 Authorization Required\"")
        #expect(ResponseText.oneLine("<!doctype html><p>sign in") == "an HTML page")
        let long = ResponseText.oneLine(String(repeating: "word ", count: 200))
        #expect(long.count == 301 && long.hasSuffix("…"))
        #expect(!long.contains("\n"))
    }
}

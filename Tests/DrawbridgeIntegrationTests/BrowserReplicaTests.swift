import DrawbridgeCore
import Foundation
import Testing

/// Two `drawbridge serve` replicas behind one real nginx (the production site file, its `drawbridge` upstream
/// listing both), driven by a real browser: Tests/e2e/browser/replica_browser_flow.py. Signed in through the
/// form, the app behind auth_request sees Remote-User while both replicas answer nginx; a sign-out posted to one
/// replica's loopback port is refused by the other within a second, with 30-second caches so that only the
/// NOTIFY can explain it. Needs what BrowserSSOTests needs (chromium, chromium-driver, python3-selenium,
/// nginx-light, openssl). Serialized: page-load timings are measured.
@Suite(.serialized) struct BrowserReplicaTests {
    static let driver = CommandRunner.repositoryRoot + "/Tests/e2e/browser/replica_browser_flow.py"

    @Test func aSignOutOnOneReplicaIsRefusedThroughNginxByTheOtherWithinASecond() async throws {
        try await TestDatabases.withFresh { try await Self.run($0) }
    }

    private static func run(_ databases: TestDatabases) async throws {
        try await TestDatabases.execute(PlatformFixture.accountsTable, on: databases.platformURL)
        let nginxPort = try BrowserSSOTests.nginxPort()
        let config = try CommandRunner.writeConfig(databases) { yaml in
            yaml.replacingOccurrences(of: "public_url: https://sso.example.com", with: "public_url: https://sso.example.test:\(nginxPort)")
                .replacingOccurrences(of: "cookie_domain: example.com", with: "cookie_domain: example.test")
                + "\ncache: { lifetime: 30s }"
        }
        #expect(try CommandRunner.run(["migrate", "--config", config]).status == 0)
        try await ReplicaTests.withTwoReplicas(config: config) { portA, portB in
            let probe = try PublicURL(parsing: "http://127.0.0.1")
            for port in [portA, portB] { try await ReplicaTests.waitUntilListening(Browser(port: port, publicURL: probe)) }

            let work = FileManager.default.temporaryDirectory.appendingPathComponent("replica-e2e-\(UUID().uuidString)").path
            let arguments = ["--drawbridge-port", "\(portA)", "--second-drawbridge-port", "\(portB)", "--nginx-port", "\(nginxPort)",
                             "--username", "alice", "--password", PlatformFixture.password, "--expect-email", "alice@example.com",
                             "--work-dir", work]
            let started = ContinuousClock.now
            let result = try await BrowserSSOTests.run(arguments, logDirectory: work, driver: Self.driver)
            let took = ContinuousClock.now - started
            let output = "driver exit status \(result.status); work directory \(work)\n\(result.stdout)\n\(result.stderr)"
            #expect(result.status == 0 && result.stdout.contains("\npassed: "), Comment(rawValue: output))
            if result.status == 0 {
                #expect(result.stdout.contains("ok: R4. a load that replica B answered was refused"), "the flow ran to its end")
            }
            for line in result.stdout.split(separator: "\n") where line.hasPrefix("passed: ") || line.hasPrefix("measured: ") {
                print("BrowserReplicaTests: \(line)")
            }
            print("BrowserReplicaTests: driver ran \(took)")
            if result.status == 0 { try? FileManager.default.removeItem(atPath: work) }
        }
    }
}

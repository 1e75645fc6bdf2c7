import Foundation
import Testing

/// The contract servers' own self-test (Tests/contract-servers/selftest.py), run as part of the suite.
/// The contract servers are stand-ins for Mattermost and Rocket.Chat written from contracts/chat-servers.md
/// (the products cannot run here); every provisioning and SSO test trusts them. The self-test drives their
/// error ids, the `already_attached` refusal, the SSO patch lock, reactivation on SSO login, listing,
/// persistence and the control API, so a stand-in that drifts from the contract fails CI here instead of
/// silently making the other suites agree with a wrong server. About 6 s on a 2-core machine.
@Suite struct ContractServerSelfTests {
    @Test func theContractServersPassTheirOwnSelfTest() async throws {
        let script = CommandRunner.repositoryRoot + "/Tests/contract-servers/selftest.py"
        // /usr/bin/python3 is what the contract servers are written for (README: Python 3.11 standard library).
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
        let result = try await CommandRunner.runToolInBackground(python, [script])
        let failures = result.stdout.split(separator: "\n").filter { $0.hasPrefix("FAIL") }
        #expect(result.status == 0, """
            selftest.py exited \(result.status): \(failures.prefix(20).joined(separator: "\n"))
            \(result.stdout.split(separator: "\n").suffix(3).joined(separator: "\n"))
            \(result.stderr.suffix(2000))
            """)
        #expect(failures.isEmpty)
        // It ran its checks (a script that exits 0 before checking anything would pass the lines above).
        let summary = result.stdout.split(separator: "\n").last { $0.hasPrefix("selftest: ") }.map(String.init) ?? ""
        let passed = Int(summary.dropFirst("selftest: ".count).prefix { $0.isNumber }) ?? 0
        #expect(passed >= 200, "\(summary)")
    }
}

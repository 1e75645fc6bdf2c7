import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Testing

/// The server against its own API description: schemathesis (PyPI) reads `openapi/drawbridge.yaml`, generates
/// valid and invalid requests from it (examples, boundary values, fuzzing), sends them to a live gateway and
/// checks every answer against the file: status codes, headers, content types, bodies, no 5xx, auth enforced.
@Suite struct OpenAPIConformanceTests {
    @Test func theServiceAPIBehavesAsTheOpenAPIFileSays() async throws {
        try await OAuthTestSupport.withGateway { browser, dependencies, databases in
            let token = try await dependencies.serviceTokens.add(name: "platform")
            let result = try await CommandRunner.runToolInBackground("bash", [
                CommandRunner.repositoryRoot + "/scripts/schemathesis.sh", "--url", "http://127.0.0.1:\(browser.port)", "--token", token.value,
            ])
            #expect(result.status == 0, "schemathesis found a difference between the server and openapi/drawbridge.yaml:\n\(result.stdout)\n\(result.stderr)")
            // It really reached the API with the token (a run that tested nothing would also exit 0): the
            // file's examples name alice, so links were made.
            #expect(result.stdout.contains("Operations:       3 selected / 3 total"), "\(result.stdout)")
            let links = try await TestDatabases.strings("SELECT count(*)::text FROM drawbridge.handoffs", on: databases.drawbridgeURL)
            #expect((Int(links.first ?? "") ?? 0) > 0)
        }
    }
}

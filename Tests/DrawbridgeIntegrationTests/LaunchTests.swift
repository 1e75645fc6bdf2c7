import DrawbridgeCore
import DrawbridgeServer
import Foundation
import NIOHTTP1
import Testing

/// `GET /launch/<connector>`, the "Open chat" button: one click from a platform page to a signed-in chat.
/// Mattermost's side is the contract server (Tests/contract-servers/mattermost_contract_server.py, written
/// from contracts/chat-servers.md §1 — a stand-in, because Mattermost cannot run here).
@Suite struct LaunchTests {
    @Test func platformHandoffThenOpenChatSignsIntoMattermostWithNoForm() async throws {
        let chat = try ContractServer(script: "mattermost_contract_server.py", arguments: ["--team", "town:off-topic"])
        defer { chat.stop() }
        try await OAuthTestSupport.withGateway(configure: { configuration in
            var settings = MattermostConnector.Settings(url: chat.url, token: chat.adminToken, teams: ["town"], timeout: .seconds(3))
            settings.publicURL = chat.url
            configuration.provisioning = ProvisioningConfiguration(
                connectors: [.mattermost(name: "mattermost", settings)],
                settings: ProvisioningSettings(waitBudget: .seconds(8), maxAttempts: 5, concurrency: 2, pollInterval: .milliseconds(200))
            )
        }) { api, dependencies, _ in
            let secret = try #require(try await OAuthTestSupport.register(dependencies, id: "mattermost-sso", redirectURIs: [chat.url + "/signup/gitlab/complete"]))
            try await chat.enableGitLabSSO(gateway: "http://127.0.0.1:\(api.port)", clientID: "mattermost-sso", secret: secret)
            // The platform's backend hands its signed-in user over, straight to the launch link.
            let token = try await dependencies.serviceTokens.add(name: "platform")
            let issued = try await api.send(.POST, "/api/v1/handoff", body: #"{"user": "alice", "redirect": "/launch/mattermost?redirect_to=/town/channels/off-topic"}"#,
                                            headers: [("Authorization", "Bearer \(token.value)"), ("Content-Type", "application/json")])
            let url = try #require(OAuthTestSupport.json(issued)["url"] as? String, "\(issued.body)")
            let link = try #require(URLComponents(string: url)?.path)

            let browser = Browser(port: api.port, publicURL: api.publicURL)
            let signedIn = try await browser.get(link)
            #expect(signedIn.status == 303)
            #expect(signedIn.location == "https://sso.example.com/launch/mattermost?redirect_to=/town/channels/off-topic")

            // The launch link: Mattermost's SSO start, with the default team's invite id and the page to end on.
            let launch = try await browser.get("/launch/mattermost?redirect_to=/town/channels/off-topic")
            #expect(launch.status == 302)
            let target = try #require(launch.location.flatMap { URLComponents(string: $0) })
            let teams = try await chat.state()["teams"] as? [String: [String: Any]] ?? [:]
            let invite = try #require(teams.values.first { $0["name"] as? String == "town" }?["invite_id"] as? String)
            #expect(target.path == "/oauth/gitlab/login" && target.port == chat.port)
            #expect(target.queryItems?.first { $0.name == "id" }?.value == invite)
            #expect(target.queryItems?.first { $0.name == "redirect_to" }?.value == "/town/channels/off-topic")

            // Mattermost sends the browser to Drawbridge, which answers at once (no form) with a code.
            let chatBrowser = try chat.browser()
            let start = try await chatBrowser.get(try #require(launch.locationPath))
            #expect(start.locationPort == api.port, "\(start.status) \(start.location ?? "")")
            let authorized = try await browser.get(try #require(start.locationPath))
            #expect(authorized.status == 302 && authorized.locationPort == chat.port, "\(authorized.status) \(authorized.body.prefix(200))")
            let completed = try await chatBrowser.get(try #require(authorized.locationPath))
            #expect(completed.status == 307, "\(completed.status) \(completed.header("X-Contract-Error-Id") ?? "")")
            let provisioned = try #require(try await chat.user(named: "alice"))
            #expect(chatBrowser.cookies["MMUSERID"] == provisioned["id"] as? String, "signed in as the account the hand-off provisioned")
            #expect(try await chat.users().filter { $0["email"] as? String == "alice@example.com" }.count == 1)
        }
    }

    @Test func launchLinksForSynapseAndRocketChatAndTheirMistakes() async throws {
        try await OAuthTestSupport.withGateway(configure: { configuration in
            var synapse = SynapseConnector.Settings(url: "http://127.0.0.1:1", token: "t", serverName: "example.com", idpID: "drawbridge")
            synapse.publicURL = "https://matrix.example.com/"
            synapse.clientURL = "https://element.example.com/#/home"
            var rocket = RocketChatConnector.Settings(url: "http://127.0.0.1:1", token: "t", userID: "u")
            rocket.publicURL = "https://rocket.example.com"
            configuration.provisioning = ProvisioningConfiguration(connectors: [
                .synapse(name: "matrix", synapse),
                .synapse(name: "half-done", SynapseConnector.Settings(url: "https://matrix2.example.com", token: "t", serverName: "example.org")),
                .rocketchat(name: "rocket", rocket),
                .webhook(name: "audit", WebhookConnector.Settings(url: "http://127.0.0.1:1", secret: "s")),
            ])
        }) { browser, _, _ in
            let matrix = try await browser.get("/launch/matrix")
            #expect(matrix.status == 302)
            #expect(matrix.location == "https://matrix.example.com/_matrix/client/v3/login/sso/redirect/oidc-drawbridge?redirectUrl=https://element.example.com/%23/home")

            let rocket = try await browser.get("/launch/rocket?redirect_to=//evil.example.net/")
            #expect(rocket.location == "https://rocket.example.com/home", "a network-path redirect_to is dropped")

            let halfDone = try await browser.get("/launch/half-done")
            #expect(halfDone.status == 503)
            #expect(halfDone.body.contains("not set up yet") && halfDone.location == nil)

            for path in ["/launch/audit", "/launch/nothing"] {
                let response = try await browser.get(path)
                #expect(response.status == 404, "\(path)")
            }
        }
    }
}

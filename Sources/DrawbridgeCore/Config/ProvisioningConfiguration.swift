import Configuration
import Foundation

/// `connectors:` (named chat servers) and `provisioning:` (the outbox's policy).
///
/// ```yaml
/// connectors:
///   mattermost:                      # any name; `type` defaults to the name
///     type: mattermost
///     url: https://chat.example.com
///     token: …                       # or DRAWBRIDGE_CONNECTORS_MATTERMOST_TOKEN(_FILE)
///     auth_service: gitlab           # or openid (Mattermost Professional)
///     link_existing: none            # or email
///     teams: [town-square]
///     channels: ["town-square:off-topic"]
///   rocketchat: { url: https://rocket.example.com, token: …, user_id: …, roles: [user] }
///   synapse: { url: https://matrix.example.com, token: …, server_name: example.com, idp_id: drawbridge }
///   audit: { type: webhook, url: https://hooks.example.com/drawbridge, secret: … }
/// provisioning: { wait_budget: 2s, max_attempts: 10, concurrency: 8 }
/// ```
public struct ProvisioningConfiguration: Sendable {
    public enum Connector: Sendable {
        case mattermost(name: String, MattermostConnector.Settings)
        case rocketchat(name: String, RocketChatConnector.Settings)
        case synapse(name: String, SynapseConnector.Settings)
        case webhook(name: String, WebhookConnector.Settings)

        public var name: String {
            switch self {
            case .mattermost(let name, _), .rocketchat(let name, _), .synapse(let name, _), .webhook(let name, _): name
            }
        }

        /// The live connector for these settings.
        public var connector: any ChatConnector {
            switch self {
            case .mattermost(let name, let settings): MattermostConnector(name: name, settings: settings)
            case .rocketchat(let name, let settings): RocketChatConnector(name: name, settings: settings)
            case .synapse(let name, let settings): SynapseConnector(name: name, settings: settings)
            case .webhook(let name, let settings): WebhookConnector(name: name, settings: settings)
            }
        }
    }

    public var connectors: [Connector]
    public var settings: ProvisioningSettings

    public init(connectors: [Connector] = [], settings: ProvisioningSettings = ProvisioningSettings()) {
        self.connectors = connectors
        self.settings = settings
    }

    /// The keys of each connector type (besides `type`).
    static let keysByType: [String: Set<String>] = [
        "mattermost": ["url", "token", "auth_service", "link_existing", "teams", "channels", "timeout", "public_url", "launch_team", "oauth_client"],
        "rocketchat": ["url", "token", "user_id", "roles", "timeout", "public_url", "oauth_client"],
        "synapse": ["url", "token", "server_name", "idp_id", "timeout", "public_url", "client_url", "oauth_client"],
        "webhook": ["url", "secret", "timeout"],
    ]
    /// Keys any connector may have, for the unknown-key check; the parser then checks them against the type.
    static let connectorKeys: Set<String> = keysByType.values.reduce(["type"]) { $0.union($1) }
}

extension ConfigurationParser {
    func parseProvisioning(connectorNames: [String], problems: inout [ConfigurationError]) -> ProvisioningConfiguration {
        var settings = ProvisioningSettings()
        settings.waitBudget = durationAllowingZero("provisioning.wait_budget", default: settings.waitBudget, problems: &problems)
        settings.maxAttempts = integer("provisioning.max_attempts", default: settings.maxAttempts, range: 1...1000, problems: &problems)
        settings.concurrency = integer("provisioning.concurrency", default: settings.concurrency, range: 1...256, problems: &problems)
        settings.pollInterval = durationAllowingZero("provisioning.poll_interval", default: settings.pollInterval, problems: &problems)
        // How long a claimed job is a worker's before another replica may take it (a worker that died mid-job).
        settings.lease = durationAllowingZero("provisioning.lease", default: settings.lease, problems: &problems)
        if settings.lease < .seconds(1) { problems.append(ConfigurationError("must be at least 1s", key: "provisioning.lease")) }
        settings.keepDone = durationAllowingZero("provisioning.keep_done", default: settings.keepDone, problems: &problems)
        if settings.keepDone < .seconds(3600) { problems.append(ConfigurationError("must be at least 1h (done jobs are how status and audits see what happened)", key: "provisioning.keep_done")) }
        let connectors = connectorNames.compactMap { parseConnector(named: $0, problems: &problems) }
        return ProvisioningConfiguration(connectors: connectors, settings: settings)
    }

    private func parseConnector(named name: String, problems: inout [ConfigurationError]) -> ProvisioningConfiguration.Connector? {
        let prefix = "connectors.\(name)"
        let type = values.string("\(prefix).type") ?? name
        guard let keys = ProvisioningConfiguration.keysByType[type] else {
            let known = ProvisioningConfiguration.keysByType.keys.sorted().joined(separator: ", ")
            problems.append(ConfigurationError("unknown connector type '\(type)' (supported: \(known)); set type: when the name is not the type", key: "\(prefix).type"))
            return nil
        }
        for key in ProvisioningConfiguration.connectorKeys.subtracting(keys).subtracting(["type"]).sorted()
        where values.string("\(prefix).\(key)") != nil || values.strings("\(prefix).\(key)") != nil {
            problems.append(ConfigurationError("not a setting of a \(type) connector (its settings: \(keys.sorted().joined(separator: ", ")))", key: "\(prefix).\(key)"))
        }
        guard let url = values.string("\(prefix).url"), URLComponents(string: url)?.host != nil else {
            problems.append(ConfigurationError("missing or not an absolute URL (e.g. https://chat.example.com)", key: "\(prefix).url"))
            return nil
        }
        let timeout = durationAllowingZero("\(prefix).timeout", default: .seconds(10), problems: &problems)
        // Browser-facing addresses (launch links): absolute http(s) URLs when set.
        func browserURL(_ key: String) -> String? {
            guard let value = values.string("\(prefix).\(key)") else { return nil }
            guard let components = URLComponents(string: value), ["http", "https"].contains(components.scheme?.lowercased() ?? ""), components.host?.isEmpty == false else {
                problems.append(ConfigurationError("'\(value)' is not an absolute http(s) URL", key: "\(prefix).\(key)"))
                return nil
            }
            return value
        }
        func required(_ key: String, _ what: String) -> String? {
            if let value = values.secret("\(prefix).\(key)") ?? values.string("\(prefix).\(key)") { return value }
            problems.append(ConfigurationError("missing: \(what) (set it, or \(ConfigurationKeys.environmentName(for: "\(prefix).\(key)"))[_FILE])", key: "\(prefix).\(key)"))
            return nil
        }
        switch type {
        case "rocketchat":
            guard let token = required("token", "an admin's personal access token"), let userID = required("user_id", "the admin's user id (X-User-Id)") else { return nil }
            var settings = RocketChatConnector.Settings(url: url, token: token, userID: userID, roles: values.strings("\(prefix).roles") ?? ["user"], timeout: timeout)
            settings.publicURL = browserURL("public_url")
            settings.oauthClientID = values.string("\(prefix).oauth_client")
            return .rocketchat(name: name, settings)
        case "synapse":
            guard let token = required("token", "an admin's access token"), let serverName = required("server_name", "the homeserver's server_name") else { return nil }
            var settings = SynapseConnector.Settings(url: url, token: token, serverName: serverName, idpID: values.string("\(prefix).idp_id") ?? "drawbridge", timeout: timeout)
            settings.publicURL = browserURL("public_url")
            settings.clientURL = browserURL("client_url")
            settings.oauthClientID = values.string("\(prefix).oauth_client")
            return .synapse(name: name, settings)
        case "webhook":
            guard let secret = required("secret", "the HMAC signing secret") else { return nil }
            return .webhook(name: name, WebhookConnector.Settings(url: url, secret: secret, timeout: timeout))
        default:
            guard let token = required("token", "an admin token") else { return nil }
            let authService = values.string("\(prefix).auth_service") ?? "gitlab"
            if !["gitlab", "openid"].contains(authService) {
                problems.append(ConfigurationError("must be gitlab or openid", key: "\(prefix).auth_service"))
            }
            let link = values.string("\(prefix).link_existing") ?? "none"
            if !["none", "email"].contains(link) {
                problems.append(ConfigurationError("must be none or email", key: "\(prefix).link_existing"))
            }
            var settings = MattermostConnector.Settings(
                url: url, token: token, authService: authService, linkExistingByEmail: link == "email",
                teams: values.strings("\(prefix).teams") ?? [], channels: values.strings("\(prefix).channels") ?? [], timeout: timeout
            )
            settings.publicURL = browserURL("public_url")
            settings.launchTeam = values.string("\(prefix).launch_team")
            settings.oauthClientID = values.string("\(prefix).oauth_client")
            return .mattermost(name: name, settings)
        }
    }

    func durationAllowingZero(_ key: String, default fallback: Duration, problems: inout [ConfigurationError]) -> Duration {
        guard let text = values.string(key) else { return fallback }
        guard let value = DurationParser.parse(text) else {
            problems.append(ConfigurationError("'\(text)' is not a duration (e.g. 0s, 2s, 1m)", key: key))
            return fallback
        }
        return value
    }
}

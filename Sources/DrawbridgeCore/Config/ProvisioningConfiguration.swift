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
/// provisioning: { wait_budget: 2s, max_attempts: 10, concurrency: 8 }
/// ```
public struct ProvisioningConfiguration: Sendable {
    public enum Connector: Sendable {
        case mattermost(name: String, MattermostConnector.Settings)

        public var name: String {
            switch self {
            case .mattermost(let name, _): name
            }
        }

        /// The live connector for these settings.
        public var connector: any ChatConnector {
            switch self {
            case .mattermost(let name, let settings): MattermostConnector(name: name, settings: settings)
            }
        }
    }

    public var connectors: [Connector]
    public var settings: ProvisioningSettings

    public init(connectors: [Connector] = [], settings: ProvisioningSettings = ProvisioningSettings()) {
        self.connectors = connectors
        self.settings = settings
    }

    /// Keys each connector may have, for the unknown-key check.
    static let connectorKeys: Set<String> = ["type", "url", "token", "auth_service", "link_existing", "teams", "channels", "timeout"]
    static let provisioningKeys = ["provisioning.wait_budget", "provisioning.max_attempts", "provisioning.concurrency", "provisioning.poll_interval"]
}

extension ConfigurationParser {
    func parseProvisioning(connectorNames: [String], problems: inout [ConfigurationError]) -> ProvisioningConfiguration {
        var settings = ProvisioningSettings()
        settings.waitBudget = durationAllowingZero("provisioning.wait_budget", default: settings.waitBudget, problems: &problems)
        settings.maxAttempts = integer("provisioning.max_attempts", default: settings.maxAttempts, range: 1...1000, problems: &problems)
        settings.concurrency = integer("provisioning.concurrency", default: settings.concurrency, range: 1...256, problems: &problems)
        settings.pollInterval = durationAllowingZero("provisioning.poll_interval", default: settings.pollInterval, problems: &problems)
        var connectors: [ProvisioningConfiguration.Connector] = []
        for name in connectorNames {
            let prefix = "connectors.\(name)"
            let type = values.string("\(prefix).type") ?? name
            guard type == "mattermost" else {
                problems.append(ConfigurationError("unknown connector type '\(type)' (supported: mattermost)", key: "\(prefix).type"))
                continue
            }
            guard let url = values.string("\(prefix).url"), URLComponents(string: url)?.host != nil else {
                problems.append(ConfigurationError("missing or not an absolute URL (e.g. https://chat.example.com)", key: "\(prefix).url"))
                continue
            }
            guard let token = values.secret("\(prefix).token") else {
                problems.append(ConfigurationError("missing: an admin token (set it, or \(ConfigurationKeys.environmentName(for: "\(prefix).token"))_FILE)", key: "\(prefix).token"))
                continue
            }
            let authService = values.string("\(prefix).auth_service") ?? "gitlab"
            if !["gitlab", "openid"].contains(authService) {
                problems.append(ConfigurationError("must be gitlab or openid", key: "\(prefix).auth_service"))
            }
            let link = values.string("\(prefix).link_existing") ?? "none"
            if !["none", "email"].contains(link) {
                problems.append(ConfigurationError("must be none or email", key: "\(prefix).link_existing"))
            }
            connectors.append(.mattermost(name: name, MattermostConnector.Settings(
                url: url, token: token, authService: authService, linkExistingByEmail: link == "email",
                teams: values.strings("\(prefix).teams") ?? [], channels: values.strings("\(prefix).channels") ?? [],
                timeout: durationAllowingZero("\(prefix).timeout", default: .seconds(10), problems: &problems)
            )))
        }
        return ProvisioningConfiguration(connectors: connectors, settings: settings)
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

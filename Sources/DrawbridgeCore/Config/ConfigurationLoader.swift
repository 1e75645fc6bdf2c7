import Configuration
import Foundation
import SystemPackage
import Yams

/// Builds a `DrawbridgeConfiguration` from a YAML file, the environment and mounted secret files.
///
/// Precedence, first wins: `DRAWBRIDGE_<KEY>_FILE` (a file holding the value, Kubernetes/Docker style),
/// `DRAWBRIDGE_<KEY>`, a secrets directory (`DRAWBRIDGE_SECRETS_DIR`, one file per key named like
/// `directory-url`), then the YAML file. Every problem is collected, so one run names them all.
public struct ConfigurationLoader: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Reads and validates; throws `ConfigurationProblems` listing every problem, one per line.
    public func load(file: String?) async throws(ConfigurationProblems) -> DrawbridgeConfiguration {
        var problems: [ConfigurationError] = []
        var yamlText: String?
        if let file {
            do {
                yamlText = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                // Without the file every other key would look missing too; that one line is the useful one.
                throw ConfigurationProblems([ConfigurationError("cannot read config file: \(Self.describe(error))", key: file)])
            }
        }
        // Connector names: the keys under `connectors:` in the file, and DRAWBRIDGE_CONNECTORS=name,name.
        var connectorNames = (environment["DRAWBRIDGE_CONNECTORS"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for name in yamlText.map(Self.connectorNames(inYAML:)) ?? [] where !connectorNames.contains(name) { connectorNames.append(name) }
        let keys = ConfigurationKeys.all + connectorNames.flatMap { name in ProvisioningConfiguration.connectorKeys.map { "connectors.\(name).\($0)" } }

        var providers: [any ConfigProvider] = []
        providers.append(InMemoryProvider(name: "secret files", values: secretFileValues(keys: keys, problems: &problems)))
        let prefixed = environment.filter { $0.key.hasPrefix("DRAWBRIDGE_") }
        providers.append(EnvironmentVariablesProvider(environmentVariables: prefixed).prefixKeys(with: ["drawbridge"]))
        if let secretsDirectory = environment["DRAWBRIDGE_SECRETS_DIR"] {
            providers.append(InMemoryProvider(name: "secrets directory", values: secretsDirectoryValues(secretsDirectory, keys: keys, problems: &problems)))
        }
        if let file, let yamlText {
            problems += Self.unknownKeys(inYAML: yamlText, file: file)
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(file)))
            } catch {
                throw ConfigurationProblems([ConfigurationError("is not valid YAML: \(error)", key: file)])
            }
        }
        let values = ConfigurationValues(reader: ConfigReader(providers: providers), environment: environment)
        let configuration = ConfigurationParser(values: values, connectorNames: connectorNames).parse(problems: &problems)
        guard problems.isEmpty, let configuration else { throw ConfigurationProblems(problems) }
        return configuration
    }

    /// Unknown `DRAWBRIDGE_*` variables: not fatal (environments are shared), but worth a warning.
    public func unknownEnvironmentVariables() -> [String] {
        let known = Set(ConfigurationKeys.all.map(ConfigurationKeys.environmentName(for:)))
        // DRAWBRIDGE_CONNECTORS_<NAME>_<KEY>: any connector name, one of the connector keys.
        let connectorKeySuffixes = ProvisioningConfiguration.connectorKeys.map { "_" + ConfigurationKeys.environmentName(for: $0).dropFirst("DRAWBRIDGE_".count) }
        return environment.keys.filter { name in
            guard name.hasPrefix("DRAWBRIDGE_"), !ConfigurationKeys.nonKeyEnvironment.contains(name) else { return false }
            let base = name.hasSuffix("_FILE") ? String(name.dropLast(5)) : name
            if base.hasPrefix("DRAWBRIDGE_CONNECTORS_"), connectorKeySuffixes.contains(where: { base.dropFirst("DRAWBRIDGE_CONNECTORS".count).count > $0.count && base.hasSuffix($0) }) {
                return false
            }
            return !known.contains(base) && !known.contains(name)
        }.sorted()
    }

    private func secretFileValues(keys: [String], problems: inout [ConfigurationError]) -> [AbsoluteConfigKey: ConfigValue] {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for key in keys {
            let variable = ConfigurationKeys.environmentName(for: key) + "_FILE"
            guard let path = environment[variable] else { continue }
            do {
                var text = try String(contentsOfFile: path, encoding: .utf8)
                while text.last?.isNewline == true { text.removeLast() }
                let key = AbsoluteConfigKey(key.split(separator: ".").map(String.init))
                values[key] = ConfigValue(.string(text), isSecret: true)
            } catch {
                problems.append(ConfigurationError("cannot read '\(path)': \(Self.describe(error))", key: variable))
            }
        }
        return values
    }

    /// One file per key in a directory, as Kubernetes mounts a Secret: `database-url` (or `keys-encryption_key`,
    /// swift-configuration's spelling, or `keys-encryption-key`). Kubernetes makes each file a symbolic link
    /// into a `..data` folder; links are followed (swift-configuration's own directory provider skips them).
    private func secretsDirectoryValues(_ directory: String, keys: [String], problems: inout [ConfigurationError]) -> [AbsoluteConfigKey: ConfigValue] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            problems.append(ConfigurationError("'\(directory)' is not a readable directory", key: "DRAWBRIDGE_SECRETS_DIR"))
            return [:]
        }
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for key in keys {
            let components = key.split(separator: ".").map(String.init)
            let libraryName = components.map { String($0.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }) }.joined(separator: "-")
            let dashedName = components.joined(separator: "-").replacingOccurrences(of: "_", with: "-")
            for name in [libraryName, dashedName] {
                let path = (directory as NSString).appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: path) else { continue }
                guard var text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    problems.append(ConfigurationError("cannot read '\(path)'", key: "DRAWBRIDGE_SECRETS_DIR"))
                    break
                }
                while text.last?.isNewline == true { text.removeLast() }
                values[AbsoluteConfigKey(components)] = ConfigValue(.string(text), isSecret: true)
                break
            }
        }
        return values
    }

    /// Walks the YAML tree and names every key Drawbridge does not know, with the file's line.
    static func unknownKeys(inYAML text: String, file: String) -> [ConfigurationError] {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            return [ConfigurationError("is not valid YAML: \(error)", key: file)]
        }
        guard let node else { return [] }
        guard case .mapping = node else {
            return [ConfigurationError("must be a YAML mapping of keys (http:, public_url:, …)", key: file)]
        }
        let known = Set(ConfigurationKeys.all)
        let connectorSections = Set(connectorNames(inYAML: text).map { "connectors.\($0)" })
        let connectorKeys = Set(connectorSections.flatMap { section in ProvisioningConfiguration.connectorKeys.map { "\(section).\($0)" } })
        let sections = Set(["connectors"]).union(connectorSections).union(known.flatMap { key in
            let parts = key.split(separator: ".")
            return (1..<max(parts.count, 1)).map { parts.prefix($0).joined(separator: ".") }
        }).union([])
        var problems: [ConfigurationError] = []
        func walk(_ node: Node, path: String) {
            guard case .mapping(let mapping) = node else { return }
            for (keyNode, valueNode) in mapping {
                let name = keyNode.string ?? "?"
                let full = path.isEmpty ? name : "\(path).\(name)"
                if known.contains(full) || connectorKeys.contains(full) { continue }
                if sections.contains(full) {
                    walk(valueNode, path: full)
                } else {
                    let line = keyNode.mark.map { " (line \($0.line))" } ?? ""
                    let hint = Self.suggestion(for: full, among: known.union(sections)).map { "; did you mean '\($0)'?" } ?? ""
                    problems.append(ConfigurationError("unknown key in \(file)\(line)\(hint)", key: full))
                }
            }
        }
        walk(node, path: "")
        return problems
    }

    /// The names under `connectors:` (each a chat server Drawbridge provisions).
    static func connectorNames(inYAML text: String) -> [String] {
        guard let node = try? Yams.compose(yaml: text), case .mapping(let root) = node,
            let connectors = root.first(where: { $0.key.string == "connectors" })?.value, case .mapping(let entries) = connectors
        else { return [] }
        return entries.compactMap { $0.key.string }.filter(SQLIdentifier.isPlain)
    }

    /// The closest known key by edit distance, when it is close enough to be a typo.
    static func suggestion(for key: String, among known: Set<String>) -> String? {
        var best: (key: String, distance: Int)?
        for candidate in known.sorted() {
            let distance = EditDistance.between(key, candidate)
            if best == nil || distance < best!.distance { best = (candidate, distance) }
        }
        guard let best, best.distance <= max(2, key.count / 4) else { return nil }
        return best.key
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? CocoaError, let path = error.filePath {
            switch error.code {
            case .fileReadNoSuchFile: return "no such file '\(path)'"
            case .fileReadNoPermission: return "permission denied for '\(path)'"
            default: break
            }
        }
        return String(describing: error)
    }
}

/// Levenshtein distance, for "did you mean" hints on mistyped keys.
enum EditDistance {
    static func between(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

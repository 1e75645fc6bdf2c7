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
        var providers: [any ConfigProvider] = []
        providers.append(InMemoryProvider(name: "secret files", values: secretFileValues(problems: &problems)))
        let prefixed = environment.filter { $0.key.hasPrefix("DRAWBRIDGE_") }
        providers.append(EnvironmentVariablesProvider(environmentVariables: prefixed).prefixKeys(with: ["drawbridge"]))
        if let secretsDirectory = environment["DRAWBRIDGE_SECRETS_DIR"] {
            do {
                providers.append(try await DirectoryFilesProvider(directoryPath: FilePath(secretsDirectory)))
            } catch {
                problems.append(ConfigurationError("cannot read secrets directory '\(secretsDirectory)': \(error)", key: "DRAWBRIDGE_SECRETS_DIR"))
            }
        }
        if let file {
            do {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                problems += Self.unknownKeys(inYAML: text, file: file)
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(file)))
            } catch let error as ConfigurationError {
                throw ConfigurationProblems([error])
            } catch {
                // Without the file every other key would look missing too; that one line is the useful one.
                throw ConfigurationProblems([ConfigurationError("cannot read config file: \(Self.describe(error))", key: file)])
            }
        }
        let values = ConfigurationValues(reader: ConfigReader(providers: providers))
        let configuration = ConfigurationParser(values: values).parse(problems: &problems)
        guard problems.isEmpty, let configuration else { throw ConfigurationProblems(problems) }
        return configuration
    }

    /// Unknown `DRAWBRIDGE_*` variables: not fatal (environments are shared), but worth a warning.
    public func unknownEnvironmentVariables() -> [String] {
        let known = Set(ConfigurationKeys.all.map(ConfigurationKeys.environmentName(for:)))
        return environment.keys.filter { name in
            guard name.hasPrefix("DRAWBRIDGE_"), !ConfigurationKeys.nonKeyEnvironment.contains(name) else { return false }
            let base = name.hasSuffix("_FILE") ? String(name.dropLast(5)) : name
            return !known.contains(base) && !known.contains(name)
        }.sorted()
    }

    private func secretFileValues(problems: inout [ConfigurationError]) -> [AbsoluteConfigKey: ConfigValue] {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for key in ConfigurationKeys.all {
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
        let sections = Set(known.flatMap { key in
            let parts = key.split(separator: ".")
            return (1..<max(parts.count, 1)).map { parts.prefix($0).joined(separator: ".") }
        })
        var problems: [ConfigurationError] = []
        func walk(_ node: Node, path: String) {
            guard case .mapping(let mapping) = node else { return }
            for (keyNode, valueNode) in mapping {
                let name = keyNode.string ?? "?"
                let full = path.isEmpty ? name : "\(path).\(name)"
                if known.contains(full) { continue }
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

import ArgumentParser
import DrawbridgeCore
import Foundation

extension ProvisionCommand {
    /// `drawbridge provision drift`: what differs between the platform and the chat servers, changing nothing.
    struct Drift: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report how chat accounts differ from the platform's users (changes nothing).",
            discussion: """
                Lists every account on each chat server and compares it with the platform's users: missing \
                accounts, extra ones, accounts deactivated on one side only, and profile differences. \
                `drawbridge provision sync` repairs what it can. Exit status: 0 when everything matches, \
                1 when there is drift, 2 when a chat server or database could not be read (as diff does).
                """
        )
        @OptionGroup var options: ConfigOptions
        @Option(help: "Only this connector (repeatable).") var connector: [String] = []
        @Option(help: "Findings listed per kind in the table (--json lists them all).") var limit = 20
        @Flag(help: "Print the whole report as JSON.") var json = false

        func validate() throws {
            guard limit >= 0 else { throw ValidationError("--limit must be 0 or more") }
        }

        func run() async throws {
            let only = connector
            let report: ProvisioningDrift.Report
            do {
                report = try await ProvisionCommand.withContext(options, timeout: nil) { context in
                    let names = context.provisioner.connectors.keys.sorted()
                    let unknown = only.filter { !names.contains($0) }
                    guard unknown.isEmpty else {
                        CommandOutput.error("no connector named '\(unknown.joined(separator: "', '"))' (configured: \(names.joined(separator: ", ")))")
                        throw ExitCode(2)
                    }
                    let chosen = context.provisioner.connectors.values.filter { only.isEmpty || only.contains($0.name) }
                    let drift = ProvisioningDrift(connectors: Array(chosen), directory: context.directory, store: context.store,
                                                  grants: context.provisioner.grants)
                    return try await drift.run()
                }
            } catch let error as ConnectorError {
                CommandOutput.error(error.description)
                throw ExitCode(2)
            } catch let exit as ExitCode where exit == .failure {
                throw ExitCode(2)
            }
            if json {
                try CommandOutput.json(report)
            } else {
                print(Self.table(report, limit: limit))
            }
            if report.hasDrift { throw ExitCode.failure }
        }

        static func table(_ report: ProvisioningDrift.Report, limit: Int) -> String {
            let kinds = DriftFinding.Kind.allCases
            var table = TextTable(header: ["connector", "chat accounts"] + kinds.map { $0.rawValue.replacingOccurrences(of: "_", with: " ") })
            for connector in report.connectors {
                table.rows.append([connector.connector, "\(connector.chatAccounts)"] + kinds.map { "\(connector.count($0))" })
            }
            var lines = ["\(report.platformUsers) platform users", table.rendered]
            for (name, reason) in report.skipped.sorted(by: { $0.key < $1.key }) {
                lines.append("\(name): not compared: \(reason)")
            }
            for connector in report.connectors {
                for kind in kinds {
                    let findings = connector.findings.filter { $0.kind == kind }
                    guard !findings.isEmpty, limit > 0 else { continue }
                    lines.append("\n\(connector.connector), \(kind.rawValue.replacingOccurrences(of: "_", with: " ")) (\(findings.count)):")
                    for finding in findings.prefix(limit) {
                        let who = [finding.login.map { "\($0) (id \(finding.platformUserID ?? "?"))" }, finding.chatUsername.map { "chat \($0)" }]
                            .compactMap { $0 }.joined(separator: " / ")
                        lines.append("  \(who): \(finding.detail)")
                    }
                    if findings.count > limit { lines.append("  … and \(findings.count - limit) more (--json lists them all)") }
                }
            }
            lines.append(report.hasDrift ? "\neach finding says what repairs it; `drawbridge provision sync` repairs what Drawbridge's own records show out of step" : "\nno drift: every chat account matches the platform")
            return lines.joined(separator: "\n")
        }
    }
}

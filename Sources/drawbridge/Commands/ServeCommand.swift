import ArgumentParser
import DrawbridgeCore
import DrawbridgeServer
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the gateway (stops gracefully on SIGTERM or SIGINT).")

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Apply pending database migrations before serving (safe with several replicas).")
    var migrate = false

    func run() async throws {
        let configuration = try await options.load(warnOnStderr: false)
        LoggingSetup.bootstrap(configuration.log)
        let logger = Logger(label: "drawbridge")
        for warning in ConfigOptions.environmentWarnings() { logger.warning("\(warning)") }

        var problems = await StartupChecks(configuration: configuration, logger: logger).run(applyMigrations: migrate)
        if !problems.isEmpty {
            problems.sort()
            for problem in problems { CommandOutput.error(problem) }
            throw ExitCode(2)
        }
        let (dependencies, services): (AppDependencies, [any Service])
        do {
            (dependencies, services) = try AppDependencies.live(configuration: configuration, logger: logger)
        } catch {
            CommandOutput.error("\(error)")
            throw ExitCode(2)
        }
        let app = try await buildApplication(dependencies: dependencies, services: services, logger: logger)
        logger.info("drawbridge listening", metadata: [
            "address": "\(configuration.http.host):\(configuration.http.port)",
            "public_url": "\(configuration.publicURL)",
        ])
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
    }
}

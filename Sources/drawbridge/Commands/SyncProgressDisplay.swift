import DrawbridgeCore
import Foundation
import Synchronization

/// Progress of a long sync on standard error: a bar with rate and ETA redrawn in place on a terminal,
/// plain progress lines (at most every five seconds) when the output goes to a log or a pipe.
final class SyncProgressDisplay: Sendable {
    let interactive: Bool
    private let state = Mutex<(lastDraw: ContinuousClock.Instant?, drewBar: Bool)>((nil, false))

    init(interactive: Bool) {
        self.interactive = interactive
    }

    func update(_ progress: ProvisioningSync.Progress) {
        let now = ContinuousClock.now
        let due = state.withLock { state -> Bool in
            let interval: Duration = interactive ? .milliseconds(100) : .seconds(5)
            let finished = progress.seen >= progress.total
            guard finished || state.lastDraw.map({ now - $0 >= interval }) ?? true else { return false }
            state.lastDraw = now
            state.drewBar = interactive
            return true
        }
        guard due else { return }
        let line = Self.describe(progress, barWidth: interactive ? 30 : 0)
        FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    /// Ends the bar's line, so what follows starts on a fresh one.
    func finish() {
        if state.withLock({ $0.drewBar }) { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func describe(_ progress: ProvisioningSync.Progress, barWidth: Int) -> String {
        let seconds = max(progress.elapsed.fractionalSeconds, 0.001)
        let doneThisRun = progress.seen - progress.resumedFrom
        let rate = Double(doneThisRun) / seconds
        let remaining = max(progress.total - progress.seen, 0)
        let eta = rate > 0 ? Self.clock(Double(remaining) / rate) : "--:--"
        let failed = progress.counts.values.reduce(0) { $0 + $1.failed }
        let fraction = progress.total > 0 ? min(Double(progress.seen) / Double(progress.total), 1) : 1
        var text = ""
        if barWidth > 0 {
            let filled = Int(fraction * Double(barWidth))
            text += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled) + "] "
        } else {
            text += "sync: "
        }
        text += "\(progress.seen)/\(progress.total) users (\(Int(fraction * 100))%), \(Int(rate.rounded())) users/s, ETA \(eta)"
        if failed > 0 { text += ", \(failed) failed" }
        if progress.resumedFrom > 0 { text += ", resumed at \(progress.resumedFrom)" }
        return text
    }

    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600 ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60) : String(format: "%d:%02d", total / 60, total % 60)
    }
}

/// On Ctrl-C (or SIGTERM), says how to resume before the process ends; the last finished page is saved.
struct InterruptNotice {
    private let sources: [any DispatchSourceSignal]

    static func install() -> InterruptNotice {
        let sources = [SIGINT, SIGTERM].map { signalNumber -> any DispatchSourceSignal in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("\ndrawbridge: interrupted; progress up to the last finished page is saved. Run the same `drawbridge provision sync` again to resume.\n".utf8))
                exit(130)
            }
            source.resume()
            return source
        }
        return InterruptNotice(sources: sources)
    }

    func cancel() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

import Foundation

/// Reads durations written the way operators write them: `90s`, `15m`, `8h`, `7d`, `1h30m`, or plain seconds.
public enum DurationParser {
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let seconds = Int64(trimmed), seconds >= 0 { return .seconds(seconds) }
        var total: Int64 = 0
        var number = ""
        var sawUnit = false
        for character in trimmed {
            if character.isASCII, character.isNumber {
                number.append(character)
                continue
            }
            guard let value = Int64(number) else { return nil }
            let unit: Int64
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86400
            case "w": unit = 7 * 86400
            default: return nil
            }
            let (product, overflow) = value.multipliedReportingOverflow(by: unit)
            guard !overflow else { return nil }
            total += product
            number = ""
            sawUnit = true
        }
        guard number.isEmpty, sawUnit else { return nil }
        return .seconds(total)
    }
}

extension Duration {
    /// Whole seconds, for SQL intervals and cookie Max-Age.
    public var wholeSeconds: Int64 { components.seconds }
}

/// How many platform users store each hash format: the operator's first question about a new table.
public struct PasswordCensus: Sendable {
    public struct Entry: Sendable, Equatable {
        public var format: String
        public var count: Int
        /// False for formats Drawbridge cannot verify: those users cannot sign in.
        public var verifiable: Bool
    }

    public private(set) var entries: [Entry] = []
    public private(set) var total = 0

    public init(users: [PlatformUser]) {
        let verifier = PasswordHashVerifier()
        var counts: [String: (Int, Bool)] = [:]
        for user in users {
            let label: String
            let verifiable: Bool
            if let hash = user.passwordHash, !hash.isEmpty {
                if let format = verifier.identify(hash) {
                    label = format.displayName
                    verifiable = true
                } else {
                    label = "unrecognised: " + (verifier.describeUnrecognised(hash) ?? "unknown format")
                    verifiable = false
                }
            } else {
                label = "no password (cannot sign in with one)"
                verifiable = false
            }
            counts[label, default: (0, verifiable)].0 += 1
        }
        total = users.count
        entries = counts.map { Entry(format: $0.key, count: $0.value.0, verifiable: $0.value.1) }
            .sorted { ($0.count, $1.format) > ($1.count, $0.format) }
    }

    public var unverifiableCount: Int { entries.filter { !$0.verifiable }.reduce(0) { $0 + $1.count } }
}

import Foundation

/// `drawbridge provision drift`: a report-only comparison of the platform's users with each chat server's
/// accounts. It changes nothing on either side (`provision sync` is what repairs).
///
/// Each connector's accounts are listed once and held by id (about 200 bytes an account: 10 MB for 50,000);
/// the platform's users are read page by page, as sync reads them. A platform user is matched to a chat
/// account through Drawbridge's link first; an active user without one is matched by the username the
/// connector's rule derives, since that is the account `provision sync` would adopt or report as a clash.
public struct ProvisioningDrift: Sendable {
    public struct Report: Sendable, Codable {
        public var platformUsers: Int
        public var connectors: [ConnectorReport]
        /// Configured connectors that cannot list their accounts (the webhook), with why.
        public var skipped: [String: String]

        public var hasDrift: Bool { connectors.contains { !$0.findings.isEmpty } }

        enum CodingKeys: String, CodingKey {
            case connectors, skipped
            case platformUsers = "platform_users"
        }
    }

    public struct ConnectorReport: Sendable, Codable {
        public var connector: String
        public var chatAccounts: Int
        public var findings: [DriftFinding]

        public func count(_ kind: DriftFinding.Kind) -> Int { findings.filter { $0.kind == kind }.count }

        enum CodingKeys: String, CodingKey {
            case connector, findings
            case chatAccounts = "chat_accounts"
        }
    }

    let connectors: [any ChatConnector]
    let directory: any UserDirectory
    let store: ProvisioningStore
    let grants: any GrantStore

    public init(connectors: [any ChatConnector], directory: any UserDirectory, store: ProvisioningStore, grants: any GrantStore) {
        self.connectors = connectors.sorted { $0.name < $1.name }
        self.directory = directory
        self.store = store
        self.grants = grants
    }

    /// One connector's accounts as listed, taken out as platform users claim them; what is left is extra.
    private struct Listing {
        let connector: any ChatAccountListing
        var byID: [String: ListedChatAccount] = [:]
        var idByUsername: [String: String] = [:]
        let total: Int
        var findings: [DriftFinding] = []
    }

    public func run(pageSize: Int = 1000) async throws -> Report {
        var listings: [Listing] = []
        var skipped: [String: String] = [:]
        for connector in connectors {
            guard let listing = connector as? any ChatAccountListing else {
                skipped[connector.name] = "a \(type(of: connector)) cannot list accounts; whatever receives its events keeps its own books"
                continue
            }
            listings.append(try await list(listing))
        }
        guard !listings.isEmpty else { return Report(platformUsers: try await directory.userCount(), connectors: [], skipped: skipped) }

        // The platform once, page by page, each user against every connector.
        var seen = 0
        var platformCursor: String?
        while true {
            let page = try await directory.users(after: platformCursor, limit: pageSize)
            guard let last = page.last else { break }
            let links = try await store.accounts(platformUserIDs: page.map(\.id))
            for user in page {
                let profile = UserProfile(user: user, numericID: try await grants.numericID(forPlatformID: user.id))
                let chatUser = ChatUser(profile: profile, isActive: user.isActive)
                for index in listings.indices {
                    let name = listings[index].connector.name
                    listings[index].findings += judge(chatUser, login: user.login, link: links[name]?[user.id]?.account, in: &listings[index])
                }
            }
            seen += page.count
            platformCursor = last.id
            if page.count < pageSize { break }
        }
        var reports: [ConnectorReport] = []
        for listing in listings { reports.append(try await report(listing)) }
        return Report(platformUsers: seen, connectors: reports, skipped: skipped)
    }

    private func list(_ connector: any ChatAccountListing) async throws -> Listing {
        var byID: [String: ListedChatAccount] = [:]
        var idByUsername: [String: String] = [:]
        var cursor: String?
        repeat {
            let page = try await connector.listAccounts(after: cursor)
            for account in page.accounts {
                byID[account.chatUserID] = account
                idByUsername[account.username.lowercased()] = account.chatUserID
            }
            cursor = page.next
        } while cursor != nil
        return Listing(connector: connector, byID: byID, idByUsername: idByUsername, total: byID.count)
    }

    private func report(_ listing: Listing) async throws -> ConnectorReport {
        let connector = listing.connector
        var findings = listing.findings
        // What no platform user claimed is extra; say whose it was when a link still points at it.
        let orphanLinks = listing.byID.isEmpty ? [:] : try await store.links(connector: connector.name)
        for account in listing.byID.values.sorted(by: { $0.username < $1.username }) {
            var finding = DriftFinding(connector: connector.name, kind: .extra, account: account)
            if let platformID = orphanLinks[account.chatUserID] {
                finding.platformUserID = platformID
                finding.detail = "linked to platform user \(platformID), who is no longer in the platform's table" + (account.active ? "; the chat account is still active" : "")
            } else {
                finding.detail = "no platform user accounts for it (an admin or bot account, or made by hand)" + (account.active ? "" : "; deactivated")
            }
            findings.append(finding)
        }
        return ConnectorReport(connector: connector.name, chatAccounts: listing.total, findings: findings)
    }

    /// The findings for one platform user on one connector; the chat account it matches is taken out of the listing.
    private func judge(_ user: ChatUser, login: String, link: ChatAccount?, in listing: inout Listing) -> [DriftFinding] {
        let connector = listing.connector
        if let link {
            guard let account = listing.byID.removeValue(forKey: link.chatUserID) else {
                guard user.isActive else { return [] }
                var finding = DriftFinding(connector: connector.name, kind: .missing, user: user, login: login)
                finding.chatUserID = link.chatUserID
                finding.detail = "linked to chat account \(link.chatUserID), which no longer exists; `provision user \(login)` recreates it"
                return [finding]
            }
            return compare(user, login: login, with: account, on: connector)
        }
        guard user.isActive else { return [] }
        if let id = listing.idByUsername[connector.expectedUsername(of: user).lowercased()], let account = listing.byID.removeValue(forKey: id) {
            var finding = DriftFinding(connector: connector.name, kind: .unlinked, user: user, login: login, account: account)
            let sameEmail = account.email.map { email in user.email.map { $0.lowercased() == email.lowercased() } ?? false }
            finding.detail = switch sameEmail {
            case true?: "an account with this username and email exists but Drawbridge has not linked it; `provision sync` adopts it when it is provably this user's, and says why not otherwise"
            case false?: "the username \(account.username) belongs to a chat account with another email; `provision sync` reports it as a clash"
            case nil: "an account with this username exists but Drawbridge has not linked it"
            }
            return [finding]
        }
        var finding = DriftFinding(connector: connector.name, kind: .missing, user: user, login: login)
        finding.detail = "no chat account; `provision sync` creates it"
        return [finding]
    }

    private func compare(_ user: ChatUser, login: String, with account: ListedChatAccount, on connector: any ChatAccountListing) -> [DriftFinding] {
        var findings: [DriftFinding] = []
        switch (user.isActive, account.active) {
        case (true, false):
            var finding = DriftFinding(connector: connector.name, kind: .deactivatedInChat, user: user, login: login, account: account)
            finding.detail = "active on the platform, deactivated in chat; `provision user \(login)` or `provision sync --recheck` reactivates it"
            findings.append(finding)
        case (false, true):
            var finding = DriftFinding(connector: connector.name, kind: .activeInChat, user: user, login: login, account: account)
            finding.detail = "inactive on the platform, still active in chat; `deprovision \(login)` or `provision sync --recheck` deactivates it"
            findings.append(finding)
        default: break
        }
        guard user.isActive else { return findings }
        var differences: [DriftFinding.Difference] = []
        let laterFields = connector.fieldsAppliedAtSignIn
        let expectedUsername = connector.expectedUsername(of: user)
        if account.username.lowercased() != expectedUsername.lowercased() {
            differences.append(.init(field: .username, platform: expectedUsername, chat: account.username, appliedAtSignIn: laterFields.contains(.username)))
        }
        if let chatEmail = account.email, let email = user.email, chatEmail.lowercased() != email.lowercased() {
            differences.append(.init(field: .email, platform: email, chat: chatEmail, appliedAtSignIn: laterFields.contains(.email)))
        }
        let expectedName = connector.expectedName(of: user)
        if let chatName = account.name, chatName.trimmingCharacters(in: .whitespaces) != expectedName.trimmingCharacters(in: .whitespaces) {
            differences.append(.init(field: .name, platform: expectedName, chat: chatName, appliedAtSignIn: laterFields.contains(.name)))
        }
        if !differences.isEmpty {
            var finding = DriftFinding(connector: connector.name, kind: .profileMismatch, user: user, login: login, account: account)
            finding.differences = differences
            let pending = differences.allSatisfy(\.appliedAtSignIn)
            finding.detail = differences.map { "\($0.field.rawValue) '\($0.chat)' in chat, '\($0.platform)' on the platform" }.joined(separator: "; ")
                + (pending ? " (reaches chat at the user's next sign-in)" : "; `provision sync` updates it")
            findings.append(finding)
        }
        return findings
    }
}

/// One difference between the platform and a chat server.
public struct DriftFinding: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// An active platform user without a chat account.
        case missing
        /// An active platform user whose chat username is taken by an account Drawbridge has not linked.
        case unlinked
        /// A chat account no platform user accounts for.
        case extra
        case deactivatedInChat = "deactivated_in_chat"
        case activeInChat = "active_in_chat"
        case profileMismatch = "profile_mismatch"
    }

    public struct Difference: Sendable, Codable, Equatable {
        public var field: ProfileField
        public var platform: String
        public var chat: String
        /// True when the chat server takes this field only from the user's next SSO sign-in.
        public var appliedAtSignIn: Bool

        enum CodingKeys: String, CodingKey {
            case field, platform, chat
            case appliedAtSignIn = "applied_at_sign_in"
        }
    }

    public var connector: String
    public var kind: Kind
    public var platformUserID: String?
    public var login: String?
    public var chatUserID: String?
    public var chatUsername: String?
    public var differences: [Difference] = []
    public var detail: String = ""

    init(connector: String, kind: Kind, user: ChatUser? = nil, login: String? = nil, account: ListedChatAccount? = nil) {
        self.connector = connector
        self.kind = kind
        self.platformUserID = user?.platformID
        self.login = login
        self.chatUserID = account?.chatUserID
        self.chatUsername = account?.username
    }

    enum CodingKeys: String, CodingKey {
        case connector, kind, login, differences, detail
        case platformUserID = "platform_user_id"
        case chatUserID = "chat_user_id"
        case chatUsername = "chat_username"
    }
}

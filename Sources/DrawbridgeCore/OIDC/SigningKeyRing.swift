import Foundation
import Logging
import PostgresNIO

/// The signer every replica uses: built from the stored keys, refreshed now and then so a rotation made
/// by `drawbridge keys rotate` (or another replica) is picked up without a restart.
public actor SigningKeyRing {
    let store: PostgresSigningKeyStore
    let kek: KeyEncryptionKey
    let algorithm: SigningAlgorithm
    /// Retired keys stay published this long: the lifetime of the longest token they may have signed.
    let publishRetiredFor: Duration
    let refreshInterval: Duration
    private var cached: (signer: TokenSigner, loadedAt: ContinuousClock.Instant)?

    public init(store: PostgresSigningKeyStore, kek: KeyEncryptionKey, algorithm: SigningAlgorithm, publishRetiredFor: Duration, refreshInterval: Duration = .seconds(60)) {
        self.store = store
        self.kek = kek
        self.algorithm = algorithm
        self.publishRetiredFor = publishRetiredFor
        self.refreshInterval = refreshInterval
    }

    public func signer() async throws -> TokenSigner {
        if let cached, ContinuousClock.now - cached.loadedAt < refreshInterval { return cached.signer }
        return try await reload()
    }

    /// Loads the keys, generating the first one if there is none.
    @discardableResult
    public func reload() async throws -> TokenSigner {
        var keys = try await store.all()
        if !keys.contains(where: { $0.retiredAt == nil }) {
            try await store.activate(try SigningKeyFactory.generate(algorithm, kek: kek), onlyIfNone: true)
            keys = try await store.all()
        }
        let cutoff = Date().addingTimeInterval(-TimeInterval(publishRetiredFor.wholeSeconds))
        let published = keys.filter { $0.retiredAt.map { $0 > cutoff } ?? true }
        let signer = try await TokenSigner(keys: published, kek: kek)
        cached = (signer, ContinuousClock.now)
        return signer
    }
}

extension SigningKeyRing {
    /// The ring as the configuration describes it, over Drawbridge's database (the server and the CLI share it).
    public static func configured(_ configuration: DrawbridgeConfiguration, client: PostgresClient, logger: Logger) throws -> SigningKeyRing {
        SigningKeyRing(
            store: PostgresSigningKeyStore(client: client, schema: configuration.database.schema, logger: logger),
            kek: try configuration.keys.keyEncryptionKey(),
            algorithm: SigningAlgorithm(rawValue: configuration.keys.algorithm) ?? .rs256,
            publishRetiredFor: max(configuration.oauth.idTokenLifetime, configuration.oauth.accessTokenLifetime) + .seconds(300)
        )
    }
}

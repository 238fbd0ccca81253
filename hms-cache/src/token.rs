//! The AUTH token: a secret hms-cache generates (`hms_core::secret`), held only to hand it to Secrets
//! Manager and ElastiCache; never printed, recorded or put in a document.

pub use hms_core::secret::Secret as Token;

//! The host side of an `event-text` handle, apart from the bindings that name it (of
//! every contract version) and the state that lends it.

use std::sync::Arc;

use crate::event::Events;

/// The batch being formatted, shared with the caller rather than moved or copied.
pub struct EventText(pub Arc<Events>);

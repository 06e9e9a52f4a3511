//! A yes/no question before a destructive action.

use gettextrs::gettext;
use gtk4::prelude::*;

/// Asks `question` over `parent`; runs `on_accept` if the user agrees.
///
/// `accept` labels the button that goes ahead (e.g. "Force Off"), so the
/// choice reads without the question.
pub fn ask(
    parent: &impl IsA<gtk4::Window>,
    question: &str,
    detail: &str,
    accept: &str,
    on_accept: impl FnOnce() + 'static,
) {
    #[allow(deprecated)] // GtkAlertDialog only exists from GTK 4.10.
    let dialog = gtk4::MessageDialog::builder()
        .transient_for(parent)
        .modal(true)
        .message_type(gtk4::MessageType::Question)
        .text(question)
        .secondary_text(detail)
        .title(question)
        .build();
    #[allow(deprecated)]
    {
        let cancel = dialog.add_button(&gettext("_Cancel"), gtk4::ResponseType::Cancel);
        super::set_plain_name(&cancel, &gettext("_Cancel"));
        let accept_button = dialog.add_button(accept, gtk4::ResponseType::Accept);
        super::set_plain_name(&accept_button, accept);
        dialog.set_default_response(gtk4::ResponseType::Cancel);
    }
    let on_accept = std::cell::Cell::new(Some(on_accept));
    #[allow(deprecated)]
    dialog.connect_response(move |dialog, response| {
        if response == gtk4::ResponseType::Accept {
            if let Some(on_accept) = on_accept.take() {
                on_accept();
            }
        }
        dialog.close();
    });
    dialog.present();
}

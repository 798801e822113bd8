//! What the customer reads, in the recipient's language: the delivery-code message (email
//! and SMS). The shipper gives the language with the recipient (`recipient.language`, a BCP 47
//! tag); English when it gives none or one Doorstep has no translation for.

use maud::{Markup, html};

/// A language customer texts are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English (the default).
    #[default]
    En,
    /// Spanish.
    Es,
}

impl Lang {
    /// The language for a BCP 47 tag such as `es-MX`: its primary subtag if translated,
    /// else English.
    pub fn for_tag(tag: &str) -> Self {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("es") {
            Lang::Es
        } else {
            Lang::En
        }
    }

    /// The stored and HTML `lang` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }
}

/// The facts a delivery-code message names.
#[derive(Debug)]
pub struct CodeMessage<'a> {
    /// The recipient's name.
    pub name: &'a str,
    /// The parcels' label values.
    pub parcels: &'a [String],
    /// The delivery day, `YYYY-MM-DD`.
    pub date: &'a str,
    /// The code, grouped for reading.
    pub code: &'a str,
    /// The customer page with the QR.
    pub link: &'a str,
    /// Whether it replaces a code sent before.
    pub replaces: bool,
}

/// The texts of one customer message: email subject and body, SMS.
#[derive(Debug)]
pub struct MessageTexts {
    /// Email subject (also the SMS's outbox subject).
    pub subject: String,
    /// Email body.
    pub body: String,
    /// SMS text.
    pub sms: String,
}

impl CodeMessage<'_> {
    /// The message in `lang`. Each says to give the code only to the courier at the door who
    /// hands over the named parcels, and that nobody will ask for it otherwise.
    pub fn texts(&self, lang: Lang) -> MessageTexts {
        let list = self.parcels.join(", ");
        let (name, date, code, link) = (self.name, self.date, self.code, self.link);
        match lang {
            Lang::En => {
                let what = if self.parcels.len() == 1 {
                    format!("your parcel {list}")
                } else {
                    format!("your parcels {list}")
                };
                MessageTexts {
                    subject: format!("Your delivery code for {list}"),
                    body: format!(
                        "Hello {name},\n\n{what} arrives on {date}. Your delivery code is {code}.\n\n\
                         Give this code only to the courier at your door who hands over {what}. \
                         Nobody from Doorstep will ask for it by phone, email or message.\n\n\
                         You can also show the QR code on this page instead: {link}\n{replaced}",
                        replaced = if self.replaces {
                            "\nThis code replaces any delivery code we sent you before for this delivery.\n"
                        } else {
                            ""
                        },
                    ),
                    sms: format!(
                        "Delivery code {code} for {what} on {date}. Give it only to the courier at your door handing over this parcel. {link}"
                    ),
                }
            }
            Lang::Es => {
                let what = if self.parcels.len() == 1 {
                    format!("tu paquete {list}")
                } else {
                    format!("tus paquetes {list}")
                };
                MessageTexts {
                    subject: format!("Tu código de entrega para {list}"),
                    body: format!(
                        "Hola {name}:\n\n{what} llega el {date}. Tu código de entrega es {code}.\n\n\
                         Da este código solo al repartidor que te entregue {what} en tu puerta. \
                         Nadie de Doorstep te lo pedirá por teléfono, correo ni mensaje.\n\n\
                         También puedes mostrar el código QR de esta página: {link}\n{replaced}",
                        replaced = if self.replaces {
                            "\nEste código sustituye a cualquier código de entrega que te enviáramos antes para esta entrega.\n"
                        } else {
                            ""
                        },
                    ),
                    sms: format!(
                        "Código de entrega {code} para {what} el {date}. Dalo solo al repartidor que te entregue este paquete en tu puerta. {link}"
                    ),
                }
            }
        }
    }
}

/// The message after a failed attempt that will be tried again.
#[derive(Debug)]
pub struct ReattemptMessage<'a> {
    /// The recipient's name.
    pub name: &'a str,
    /// The parcel's label value.
    pub parcel: &'a str,
    /// The new delivery day, `YYYY-MM-DD`.
    pub date: &'a str,
}

impl ReattemptMessage<'_> {
    /// The message in `lang` (email subject and body, SMS).
    pub fn texts(&self, lang: Lang) -> MessageTexts {
        let (name, parcel, date) = (self.name, self.parcel, self.date);
        match lang {
            Lang::En => MessageTexts {
                subject: format!("We missed you: your parcel {parcel} comes again on {date}"),
                body: format!(
                    "Hello {name},\n\nwe could not deliver your parcel {parcel} today. \
                     The courier will try again on {date}.\n"
                ),
                sms: format!(
                    "We could not deliver your parcel {parcel} today; we will try again on {date}."
                ),
            },
            Lang::Es => MessageTexts {
                subject: format!(
                    "No te encontramos: tu paquete {parcel} llegará de nuevo el {date}"
                ),
                body: format!(
                    "Hola {name}:\n\nhoy no pudimos entregar tu paquete {parcel}. \
                     El repartidor lo intentará de nuevo el {date}.\n"
                ),
                sms: format!(
                    "Hoy no pudimos entregar tu paquete {parcel}; lo intentaremos de nuevo el {date}."
                ),
            },
        }
    }
}

/// The "your courier is about n stops away" message, for a customer who asked for it.
#[derive(Debug)]
pub struct NearMessage<'a> {
    /// The recipient's name.
    pub name: &'a str,
    /// Stops before theirs.
    pub stops: u32,
    /// Their page.
    pub link: &'a str,
    /// Whether the handover needs their delivery code.
    pub code: bool,
}

impl NearMessage<'_> {
    /// The message in `lang` (email subject and body, SMS). It names no other customer and
    /// no position, only the number of stops.
    pub fn texts(&self, lang: Lang) -> MessageTexts {
        let (name, n, link) = (self.name, self.stops, self.link);
        match lang {
            Lang::En => {
                let away = match n {
                    0 => "your stop is next".to_string(),
                    1 => "your courier is 1 stop away".to_string(),
                    n => format!("your courier is about {n} stops away"),
                };
                let ready = if self.code {
                    " Have your delivery code ready."
                } else {
                    ""
                };
                MessageTexts {
                    subject: format!("Your delivery is near: {away}"),
                    body: format!("Hello {name},\n\n{away}.{ready}\n\nYour delivery: {link}\n"),
                    sms: format!("Doorstep: {away}.{ready} {link}"),
                }
            }
            Lang::Es => {
                let away = match n {
                    0 => "tu parada es la siguiente".to_string(),
                    1 => "tu repartidor está a 1 parada".to_string(),
                    n => format!("tu repartidor está a unas {n} paradas"),
                };
                let ready = if self.code {
                    " Ten a mano tu código de entrega."
                } else {
                    ""
                };
                MessageTexts {
                    subject: format!("Tu entrega está cerca: {away}"),
                    body: format!("Hola {name}:\n\n{away}.{ready}\n\nTu entrega: {link}\n"),
                    sms: format!("Doorstep: {away}.{ready} {link}"),
                }
            }
        }
    }
}

/// The words of the customer page (the QR and the code's rules) in one language. The sentences
/// with emphasis are markup (`maud`: the name, address and date spliced in are escaped).
#[derive(Debug)]
pub struct CustomerPageWords {
    lang: Lang,
    /// The page's title and heading.
    pub title: &'static str,
    /// The rule for the code.
    pub give_only_to_courier: Markup,
    /// The QR's caption.
    pub show_to_courier: &'static str,
    /// The summary of the QR's text.
    pub qr_text: &'static str,
    /// The code expired.
    pub expired: &'static str,
    /// No code is needed.
    pub no_code: &'static str,
}

impl CustomerPageWords {
    /// Whose delivery it is, where and when: "For **Ana**, 1 Main St on 2026-12-02."
    pub fn for_whom(&self, name: &str, address: &str, date: &str) -> Markup {
        match self.lang {
            Lang::En => html! { "For " strong { (name) } ", " (address) " on " (date) "." },
            Lang::Es => html! { "Para " strong { (name) } ", " (address) ", el " (date) "." },
        }
    }
}

impl Lang {
    /// The customer page's words in this language.
    pub fn customer_page(self) -> CustomerPageWords {
        match self {
            Lang::En => CustomerPageWords {
                lang: self,
                title: "Your delivery",
                give_only_to_courier: html! {
                    "Give your delivery code — or show this QR code — "
                    strong { "only to the courier at your door who is handing over the parcels above" }
                    ". Nobody will ask for it by phone, email or message."
                },
                show_to_courier: "Show this to the courier at the door.",
                qr_text: "QR text",
                expired: "This delivery's code has expired. Contact the sender for a new delivery.",
                no_code: "No delivery code is needed for this delivery.",
            },
            Lang::Es => CustomerPageWords {
                lang: self,
                title: "Tu entrega",
                give_only_to_courier: html! {
                    "Da tu código de entrega — o muestra este código QR — "
                    strong { "solo al repartidor que te entregue en tu puerta los paquetes de arriba" }
                    ". Nadie te lo pedirá por teléfono, correo ni mensaje."
                },
                show_to_courier: "Muéstraselo al repartidor en la puerta.",
                qr_text: "Texto del QR",
                expired: "El código de esta entrega ha caducado. Contacta con el remitente para una nueva entrega.",
                no_code: "Esta entrega no necesita código.",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_language_tag_picks_its_translation_or_english() {
        assert_eq!(Lang::for_tag("es-MX"), Lang::Es);
        assert_eq!(Lang::for_tag("ES"), Lang::Es);
        assert_eq!(Lang::for_tag("de-DE"), Lang::En);
        assert_eq!(Lang::for_tag(""), Lang::En);
    }

    #[test]
    fn every_language_names_the_code_the_parcel_and_the_link() {
        let parcels = vec!["JJD0001".to_string()];
        let m = CodeMessage {
            name: "Ana",
            parcels: &parcels,
            date: "2026-12-02",
            code: "123 4567",
            link: "https://x/c/abc",
            replaces: true,
        };
        for lang in [Lang::En, Lang::Es] {
            let t = m.texts(lang);
            for text in [&t.body, &t.sms] {
                assert!(
                    text.contains("123 4567") && text.contains("JJD0001"),
                    "{text}"
                );
                assert!(text.contains("https://x/c/abc"), "{text}");
            }
            assert!(t.subject.contains("JJD0001"));
        }
        assert!(m.texts(Lang::Es).body.contains("solo al repartidor"));
        assert!(m.texts(Lang::Es).body.contains("sustituye"));
    }

    #[test]
    fn the_customer_page_names_the_recipient_escaped_in_every_language() {
        for (lang, text) in [
            (
                Lang::En,
                "For <strong>A&amp;B &lt;i&gt;</strong>, 1 Main St on 2026-12-02.",
            ),
            (
                Lang::Es,
                "Para <strong>A&amp;B &lt;i&gt;</strong>, 1 Main St, el 2026-12-02.",
            ),
        ] {
            let words = lang.customer_page();
            assert_eq!(
                words
                    .for_whom("A&B <i>", "1 Main St", "2026-12-02")
                    .into_string(),
                text
            );
        }
    }
}

//! Every word of the customer's page after the code (the choices, "when is it coming", the
//! pages for a bad link), in each language. The plain words are one struct per language, so a
//! language without a word does not compile; [`CustomerWords::all`] lists them for the test
//! that no translation is left in English. The sentences with numbers or dates are methods.

use super::customer::{ChoiceOutcome, Closed, Field, FormError, Refusal};
use super::messages::Lang;

macro_rules! words {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// The customer page's words in one language.
        #[derive(Debug)]
        pub struct CustomerWords {
            lang: Lang,
            $($(#[doc = $doc])* pub $name: &'static str,)*
        }

        impl CustomerWords {
            /// Every plain word, by name (for the completeness test).
            pub fn all(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($name), self.$name),)*]
            }
        }
    };
}

words! {
    /// Heading of "when is it coming".
    when,
    /// Heading of the parcels.
    parcels,
    /// Heading of the choices.
    choices,
    /// "Delivered" state.
    delivered,
    /// Nothing left to deliver here (failed or on its way back).
    finished,
    /// The choice now in force, label.
    current_choice,
    /// As planned: into the customer's hands.
    as_planned,
    /// What the sender planned, after the method's name.
    sender_planned,
    /// A neighbour, heading.
    neighbour,
    /// The neighbour's name, label.
    neighbour_name,
    /// The neighbour's house number, label.
    house,
    /// The neighbour's button.
    neighbour_button,
    /// The neighbour will need the code.
    pass_code_on,
    /// A safe place, heading.
    safe_place,
    /// Describe another place, label.
    safe_place_other,
    /// Describe a place (when the shipper lists none), label.
    safe_place_describe,
    /// The safe place's button.
    safe_place_button,
    /// A pickup point, heading.
    pickup_point,
    /// The pickup point's button.
    pickup_point_button,
    /// Another day, heading.
    other_day,
    /// The other day's button.
    other_day_button,
    /// Instructions, heading.
    instructions,
    /// Instructions, hint.
    instructions_hint,
    /// Instructions' button.
    instructions_button,
    /// The near message, heading.
    notify,
    /// The near message, checkbox label.
    notify_label,
    /// The near message's button.
    notify_button,
    /// Back to in person, heading.
    in_person,
    /// Back to in person, button.
    in_person_button,
    /// Not available, prefix.
    not_available,
    /// Saved.
    saved,
    /// The page was older than the choice (a replay): nothing changed.
    stale,
    /// The day is not offered.
    day_not_offered,
    /// The recipient already has a delivery that day.
    day_taken,
    /// Not on the list.
    not_on_list,
    /// Too many changes.
    too_many,
    /// Unknown link, heading.
    unknown_title,
    /// Unknown link, text.
    unknown_text,
    /// Expired link, heading.
    expired_title,
    /// Expired link, text.
    expired_text,
    /// The form is not one of the page's.
    unknown_form,
    /// The delivery day, label.
    day_label,
}

impl Lang {
    /// The customer page's words in this language.
    pub fn customer_words(self) -> CustomerWords {
        match self {
            Lang::En => CustomerWords {
                lang: self,
                when: "When",
                parcels: "Parcels",
                choices: "How we deliver",
                delivered: "Delivered. Thank you!",
                finished: "Nothing is left to deliver here today. The sender or our message tells you what happens next.",
                current_choice: "Your choice:",
                as_planned: "into your hands, as planned",
                sender_planned: "(as the sender planned)",
                neighbour: "Leave it with a neighbour",
                neighbour_name: "Neighbour's name",
                house: "House number",
                neighbour_button: "Deliver to my neighbour",
                pass_code_on: "Your neighbour will need your delivery code: pass it on to them.",
                safe_place: "Leave it in a safe place",
                safe_place_other: "Somewhere else (describe it)",
                safe_place_describe: "Where (describe the place)",
                safe_place_button: "Leave it there",
                pickup_point: "Take it to a pickup point",
                pickup_point_button: "Take it there",
                other_day: "Another day",
                other_day_button: "Deliver that day",
                instructions: "Instructions for the courier",
                instructions_hint: "For example: the gate code, or which door. Plain text.",
                instructions_button: "Save instructions",
                notify: "Tell me when the courier is near",
                notify_label: "Send me a message when the courier is about 3 stops away",
                notify_button: "Save",
                in_person: "Into my own hands",
                in_person_button: "Hand it to me in person",
                not_available: "Not available:",
                saved: "Saved. The courier sees it on their next update.",
                stale: "This page was out of date, so nothing was changed. Here is your delivery as it stands now.",
                day_not_offered: "That day cannot be chosen. Pick one of the days in the list.",
                day_taken: "You already have a delivery on that day. Ask the sender to combine them.",
                not_on_list: "That place is not on the list. Pick one of the list.",
                too_many: "Too many changes in a short time. Wait a few minutes and try again.",
                unknown_title: "This link does not work",
                unknown_text: "Check that you opened the whole link from your message. If the delivery was changed, use the link in the newest message.",
                expired_title: "This link has expired",
                expired_text: "This delivery is over, so its page is closed. Contact the sender if something is wrong.",
                unknown_form: "That form is not one of this page's. Use the buttons on the page.",
                day_label: "Day",
            },
            Lang::Es => CustomerWords {
                lang: self,
                when: "Cuándo",
                parcels: "Paquetes",
                choices: "Cómo lo entregamos",
                delivered: "Entregado. ¡Gracias!",
                finished: "Hoy no queda nada por entregar aquí. El remitente o nuestro mensaje te dirán qué pasa ahora.",
                current_choice: "Tu elección:",
                as_planned: "en tus manos, como estaba previsto",
                sender_planned: "(como lo previó el remitente)",
                neighbour: "Dejarlo a un vecino",
                neighbour_name: "Nombre del vecino",
                house: "Número de casa",
                neighbour_button: "Entregar a mi vecino",
                pass_code_on: "Tu vecino necesitará tu código de entrega: dáselo.",
                safe_place: "Dejarlo en un lugar seguro",
                safe_place_other: "En otro sitio (descríbelo)",
                safe_place_describe: "Dónde (describe el lugar)",
                safe_place_button: "Dejarlo allí",
                pickup_point: "Llevarlo a un punto de recogida",
                pickup_point_button: "Llevarlo allí",
                other_day: "Otro día",
                other_day_button: "Entregar ese día",
                instructions: "Instrucciones para el repartidor",
                instructions_hint: "Por ejemplo: el código de la verja o qué puerta. Solo texto.",
                instructions_button: "Guardar instrucciones",
                notify: "Avisarme cuando el repartidor esté cerca",
                notify_label: "Enviarme un mensaje cuando el repartidor esté a unas 3 paradas",
                notify_button: "Guardar",
                in_person: "En mis manos",
                in_person_button: "Entregármelo en mano",
                not_available: "No disponible:",
                saved: "Guardado. El repartidor lo verá en su próxima actualización.",
                stale: "Esta página no estaba al día, así que no se cambió nada. Esta es tu entrega tal como está ahora.",
                day_not_offered: "Ese día no se puede elegir. Elige uno de los días de la lista.",
                day_taken: "Ya tienes una entrega ese día. Pide al remitente que las junte.",
                not_on_list: "Ese lugar no está en la lista. Elige uno de la lista.",
                too_many: "Demasiados cambios en poco tiempo. Espera unos minutos y vuelve a intentarlo.",
                unknown_title: "Este enlace no funciona",
                unknown_text: "Comprueba que abriste el enlace completo de tu mensaje. Si la entrega cambió, usa el enlace del mensaje más reciente.",
                expired_title: "Este enlace ha caducado",
                expired_text: "Esta entrega ha terminado, así que su página está cerrada. Contacta con el remitente si algo va mal.",
                unknown_form: "Ese formulario no es de esta página. Usa los botones de la página.",
                day_label: "Día",
            },
        }
    }
}

const EN_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const ES_DAYS: [&str; 7] = [
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
];
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const ES_MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

impl CustomerWords {
    /// A day as people say it: "Tuesday 8 December" / "martes 8 de diciembre".
    pub fn date(&self, date: &str) -> String {
        let Ok(d) = date.parse::<jiff::civil::Date>() else {
            return date.to_string();
        };
        let w = d.weekday().to_monday_zero_offset() as usize;
        let m = (d.month() - 1) as usize;
        match self.lang {
            Lang::En => format!("{} {} {}", EN_DAYS[w], d.day(), EN_MONTHS[m]),
            Lang::Es => format!("{} {} de {}", ES_DAYS[w], d.day(), ES_MONTHS[m]),
        }
    }

    /// The delivery day's line: "Your delivery comes on Tuesday 8 December."
    pub fn comes_on(&self, date: &str, today: bool) -> String {
        let day = self.date(date);
        match (self.lang, today) {
            (Lang::En, true) => format!("Your delivery comes today, {day}."),
            (Lang::En, false) => format!("Your delivery comes on {day}."),
            (Lang::Es, true) => format!("Tu entrega llega hoy, {day}."),
            (Lang::Es, false) => format!("Tu entrega llega el {day}."),
        }
    }

    /// The arrival window: "Expected between 10:15 and 11:15."
    pub fn window(&self, from: &str, to: &str) -> String {
        match self.lang {
            Lang::En => format!("Expected between {from} and {to}."),
            Lang::Es => format!("Prevista entre las {from} y las {to}."),
        }
    }

    /// "3 stops before yours."
    pub fn stops_before(&self, n: u32) -> String {
        match (self.lang, n) {
            (Lang::En, 0) => "Your stop is next.".into(),
            (Lang::En, 1) => "1 stop before yours.".into(),
            (Lang::En, n) => format!("{n} stops before yours."),
            (Lang::Es, 0) => "Tu parada es la siguiente.".into(),
            (Lang::Es, 1) => "1 parada antes de la tuya.".into(),
            (Lang::Es, n) => format!("{n} paradas antes de la tuya."),
        }
    }

    /// Why choices can no longer change.
    pub fn closed(&self, c: Closed) -> String {
        match (self.lang, c) {
            (Lang::En, Closed::Delivered) => {
                "Your delivery is done, so nothing can be changed.".into()
            }
            (Lang::En, Closed::Finished) => {
                "Nothing is left to deliver here, so nothing can be changed.".into()
            }
            (Lang::En, Closed::DayPassed) => {
                "The delivery day is over, so nothing can be changed here.".into()
            }
            (Lang::En, Closed::Started) => {
                "Too late to change: the courier is already at your door.".into()
            }
            (Lang::En, Closed::Near(0)) => {
                "Too late to change: your stop is next and the courier has the route on their phone."
                    .into()
            }
            (Lang::En, Closed::Near(n)) => format!(
                "Too late to change: the courier is {} away and has the route on their phone.",
                if n == 1 {
                    "1 stop".to_string()
                } else {
                    format!("{n} stops")
                }
            ),
            (Lang::Es, Closed::Delivered) => {
                "Tu entrega está hecha, así que no se puede cambiar nada.".into()
            }
            (Lang::Es, Closed::Finished) => {
                "Aquí no queda nada por entregar, así que no se puede cambiar nada.".into()
            }
            (Lang::Es, Closed::DayPassed) => {
                "El día de entrega ha pasado, así que aquí no se puede cambiar nada.".into()
            }
            (Lang::Es, Closed::Started) => {
                "Demasiado tarde para cambiar: el repartidor ya está en tu puerta.".into()
            }
            (Lang::Es, Closed::Near(0)) => {
                "Demasiado tarde para cambiar: tu parada es la siguiente y el repartidor lleva la ruta en su teléfono."
                    .into()
            }
            (Lang::Es, Closed::Near(n)) => format!(
                "Demasiado tarde para cambiar: el repartidor está a {} y lleva la ruta en su teléfono.",
                if n == 1 {
                    "1 parada".to_string()
                } else {
                    format!("{n} paradas")
                }
            ),
        }
    }

    /// Why a choice is not offered, in the customer's terms.
    pub fn refusal(&self, r: Refusal) -> &'static str {
        match (self.lang, r) {
            (Lang::En, Refusal::AgeRestricted) => {
                "age-restricted goods are handed only to you, in person, with an ID check."
            }
            (Lang::En, Refusal::InPersonOnly) => {
                "the sender's rules hand this delivery only to you, in person."
            }
            (Lang::En, Refusal::NeedsCode) => {
                "this delivery needs your delivery code at the door, and nobody there would have it."
            }
            (Lang::En, Refusal::NoPickupPoints) => "this delivery service has no pickup points.",
            (Lang::En, Refusal::NoOtherDay) => {
                "the sender does not allow another day for this delivery."
            }
            (Lang::Es, Refusal::AgeRestricted) => {
                "los productos con restricción de edad solo se entregan en tus manos, con comprobación de identidad."
            }
            (Lang::Es, Refusal::InPersonOnly) => {
                "las reglas del remitente entregan este envío solo en tus manos."
            }
            (Lang::Es, Refusal::NeedsCode) => {
                "esta entrega necesita tu código en la puerta, y allí nadie lo tendría."
            }
            (Lang::Es, Refusal::NoPickupPoints) => {
                "este servicio de entrega no tiene puntos de recogida."
            }
            (Lang::Es, Refusal::NoOtherDay) => {
                "el remitente no permite otro día para esta entrega."
            }
        }
    }

    fn field(&self, f: Field) -> &'static str {
        match f {
            Field::NeighbourName => self.neighbour_name,
            Field::House => self.house,
            Field::SafePlace => self.safe_place_describe,
            Field::PickupPoint => self.pickup_point,
            Field::Day => self.day_label,
            Field::Instructions => self.instructions,
        }
    }

    /// What is wrong with a form, naming the field and its limit.
    pub fn form_error(&self, e: FormError) -> String {
        match (self.lang, e) {
            (_, FormError::Unknown) => self.unknown_form.into(),
            (Lang::En, FormError::Missing(f)) => format!("{}: please fill this in.", self.field(f)),
            (Lang::En, FormError::TooLong(f, max)) => {
                format!(
                    "{}: at most {max} characters. Please shorten it.",
                    self.field(f)
                )
            }
            (Lang::Es, FormError::Missing(f)) => format!("{}: rellena este campo.", self.field(f)),
            (Lang::Es, FormError::TooLong(f, max)) => {
                format!(
                    "{}: como máximo {max} caracteres. Acórtalo, por favor.",
                    self.field(f)
                )
            }
        }
    }

    /// What became of a change, for the page's notice (`None`: saved, the page says so).
    pub fn outcome(&self, o: &ChoiceOutcome) -> String {
        match o {
            ChoiceOutcome::Saved => self.saved.into(),
            ChoiceOutcome::Stale => self.stale.into(),
            ChoiceOutcome::Closed(c) => self.closed(*c),
            ChoiceOutcome::Refused(r) => format!("{} {}", self.not_available, self.refusal(*r)),
            ChoiceOutcome::DayNotOffered => self.day_not_offered.into(),
            ChoiceOutcome::DayTaken => self.day_taken.into(),
            ChoiceOutcome::NotOnList => self.not_on_list.into(),
        }
    }

    /// The instructions' limit: "At most 300 characters."
    pub fn at_most(&self, max: usize) -> String {
        match self.lang {
            Lang::En => format!("At most {max} characters."),
            Lang::Es => format!("Como máximo {max} caracteres."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_has_a_spanish_translation() {
        let en = Lang::En.customer_words().all();
        let es = Lang::Es.customer_words().all();
        assert_eq!(en.len(), es.len());
        for ((name, en), (_, es)) in en.iter().zip(&es) {
            assert!(!es.trim().is_empty(), "{name} is empty in Spanish");
            assert_ne!(en, es, "{name} is not translated");
        }
        for r in [
            Refusal::AgeRestricted,
            Refusal::InPersonOnly,
            Refusal::NeedsCode,
            Refusal::NoPickupPoints,
            Refusal::NoOtherDay,
        ] {
            assert_ne!(
                Lang::En.customer_words().refusal(r),
                Lang::Es.customer_words().refusal(r)
            );
        }
    }

    #[test]
    fn dates_are_said_as_people_say_them() {
        assert_eq!(
            Lang::En.customer_words().date("2026-12-08"),
            "Tuesday 8 December"
        );
        assert_eq!(
            Lang::Es.customer_words().date("2026-12-08"),
            "martes 8 de diciembre"
        );
    }

    #[test]
    fn a_form_error_names_the_field_and_its_limit() {
        let e = FormError::TooLong(Field::Instructions, 300);
        assert_eq!(
            Lang::En.customer_words().form_error(e),
            "Instructions for the courier: at most 300 characters. Please shorten it."
        );
        assert!(Lang::Es.customer_words().form_error(e).contains("300"));
    }
}

//! How a notification names records and people, in the chat tool's markup: an Opportunity by
//! its name linked to Salesforce (`salesforce-url`) and its Id, an invoice by its number linked
//! to QBO (`invoice-link-base`), an owner by a mention when `notify-mentions` maps their email,
//! else by name. Everything read from an API enters escaped (see [`Markup`]).

use super::settings::FlowSettings;
use crate::clients::notify::{url_segment, Markup};
use crate::clients::salesforce_json::NoticeOpportunity;

/// Where Opportunity `id` is shown in Salesforce (Lightning), when `salesforce-url` is set.
pub fn opportunity_url(settings: &FlowSettings, id: &str) -> Option<String> {
    let base = settings.notify.salesforce_url.as_deref()?;
    Some(format!(
        "{base}/lightning/r/Opportunity/{}/view",
        url_segment(id)
    ))
}

/// Where invoice `id` is shown in QBO.
pub fn invoice_url(settings: &FlowSettings, id: &str) -> String {
    format!("{}{}", settings.invoice_link_base, url_segment(id))
}

/// Opportunity `id` named `name`: `<url|Acme - 4 seats> (006…)`; without `salesforce-url`,
/// `Acme - 4 seats (006…)`; without a name, the Id alone (linked when it can be).
pub fn opportunity(settings: &FlowSettings, id: &str, name: Option<&str>) -> Markup {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let shown = name.unwrap_or(id);
    let mut text = match opportunity_url(settings, id) {
        Some(url) => Markup::link(&url, shown),
        None => Markup::plain(shown),
    };
    if name.is_some() {
        text.push_plain(&format!(" ({id})"));
    }
    text
}

/// Invoice `id` by its number (else its Id), linked to QBO.
pub fn invoice(settings: &FlowSettings, id: &str, number: Option<&str>) -> Markup {
    let number = number
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(id);
    Markup::link(&invoice_url(settings, id), number)
}

/// The chat user `notify-mentions` maps Salesforce user `email` to (emails without case).
pub fn chat_user<'s>(settings: &'s FlowSettings, email: &str) -> Option<&'s str> {
    settings
        .notify
        .mentions
        .get(&email.trim().to_lowercase())
        .map(String::as_str)
}

/// The owner of `o`: a mention when their email is mapped, else their name; `None` when the
/// opportunity has no owner to name.
pub fn owner(settings: &FlowSettings, o: &NoticeOpportunity) -> Option<Markup> {
    if let Some(user) = o
        .owner_email
        .as_deref()
        .and_then(|e| chat_user(settings, e))
    {
        return Some(Markup::mention(&settings.notify.mention_format, user));
    }
    o.owner_name.as_deref().map(Markup::plain)
}

/// "Opportunity <link|name> (id)" for opportunity `id`, as far as `found` (what Salesforce said
/// about it, if it could be read) tells.
pub fn named_opportunity(
    settings: &FlowSettings,
    id: &str,
    found: Option<&NoticeOpportunity>,
) -> Markup {
    Markup::plain("Opportunity ").then(opportunity(
        settings,
        id,
        found.and_then(|o| o.name.as_deref()),
    ))
}

/// ", owner <mention or name>" when `found` has an owner, else nothing.
pub fn owner_suffix(settings: &FlowSettings, found: Option<&NoticeOpportunity>) -> Markup {
    match found.and_then(|o| owner(settings, o)) {
        Some(owner) => Markup::plain(", owner ").then(owner),
        None => Markup::default(),
    }
}

/// [`named_opportunity`] then its [`owner_suffix`].
pub fn opportunity_and_owner(
    settings: &FlowSettings,
    id: &str,
    found: Option<&NoticeOpportunity>,
) -> Markup {
    named_opportunity(settings, id, found).then(owner_suffix(settings, found))
}

/// A line of the "need attention" summary: `<entity> <record>: <detail>`, an Opportunity linked
/// to Salesforce.
pub fn attention_line(settings: &FlowSettings, entity: &str, record: &str, detail: &str) -> Markup {
    let mut line = Markup::plain(&format!("{entity} "));
    if entity == "Opportunity" {
        line.push(opportunity(settings, record, None));
    } else {
        line.push_plain(record);
    }
    line.push_plain(&format!(": {detail}"));
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::memory::MemorySettings;

    fn settings(pairs: &[(&str, &str)]) -> FlowSettings {
        let mut all: std::collections::BTreeMap<String, String> =
            [("realm-id".to_string(), "1".to_string())].into();
        all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        FlowSettings::load(&MemorySettings(all)).unwrap()
    }

    fn deal(email: Option<&str>, name: Option<&str>) -> NoticeOpportunity {
        NoticeOpportunity {
            id: "006A".into(),
            name: Some("A<B> & Co".into()),
            owner_name: name.map(str::to_string),
            owner_email: email.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn records_are_named_with_links_and_owners_by_mention_or_name_all_escaped() {
        let s = settings(&[
            ("salesforce-url", "https://acme.my.salesforce.com"),
            ("notify-mentions", "Ada@Acme.example=U024BE7LH"),
        ]);
        let ada = deal(Some("ada@ACME.example"), Some("Ada Lovelace"));
        assert_eq!(
            opportunity_and_owner(&s, "006A", Some(&ada)).as_str(),
            "Opportunity <https://acme.my.salesforce.com/lightning/r/Opportunity/006A/view|\
             A&lt;B&gt; &amp; Co> (006A), owner <@U024BE7LH>"
        );
        let bob = deal(Some("bob@acme.example"), Some("Bob <@U0> Smith"));
        assert_eq!(
            opportunity_and_owner(&s, "006A", Some(&bob)).as_str(),
            "Opportunity <https://acme.my.salesforce.com/lightning/r/Opportunity/006A/view|\
             A&lt;B&gt; &amp; Co> (006A), owner Bob &lt;@U0&gt; Smith"
        );
        assert_eq!(
            opportunity_and_owner(&s, "006A", Some(&deal(None, None))).as_str(),
            "Opportunity <https://acme.my.salesforce.com/lightning/r/Opportunity/006A/view|\
             A&lt;B&gt; &amp; Co> (006A)"
        );
        assert_eq!(
            opportunity_and_owner(&s, "006A", None).as_str(),
            "Opportunity <https://acme.my.salesforce.com/lightning/r/Opportunity/006A/view|006A>"
        );
        assert_eq!(
            invoice(&s, "130", Some("SF-1")).as_str(),
            "<https://app.qbo.intuit.com/app/invoice?txnId=130|SF-1>"
        );
        assert_eq!(
            attention_line(&s, "Opportunity", "006A", "Amount <0> & more").as_str(),
            "Opportunity <https://acme.my.salesforce.com/lightning/r/Opportunity/006A/view|006A>: \
             Amount &lt;0&gt; &amp; more"
        );

        // No org address: the Salesforce record is named by id, unlinked; another mention form.
        let s = settings(&[
            ("notify-mentions", "ada@acme.example=ada.l"),
            ("notify-mention-format", "@{user}"),
        ]);
        assert_eq!(
            opportunity_and_owner(&s, "006A", Some(&ada)).as_str(),
            "Opportunity A&lt;B&gt; &amp; Co (006A), owner @ada.l"
        );
        assert_eq!(
            attention_line(&s, "Payment", "77", "gone").as_str(),
            "Payment 77: gone"
        );
    }
}

//! `template.yaml` against the code: each function deploys exactly the routes its crate
//! serves, behind its feature's parameter; every setting reaches every function, and the
//! parameters' defaults give the code's defaults; the table is the one the code uses; each
//! function's policy allows exactly what its code calls (`permissions`).

mod permissions;

use std::collections::{BTreeMap, BTreeSet};

use blockauth::signing_key::SigningKey;
use blockauth::store::table;
use blockauth::{Feature, Settings};
use blockauth_local::FEATURES;
use saphyr::{LoadableYamlNode, Scalar, Yaml};

/// A template node: scalars as their text, CloudFormation's short tags (`!Ref`) kept.
#[derive(Debug, Clone)]
enum Node {
    Text(String),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
    Tagged(String, Box<Node>),
}

impl Node {
    fn from_yaml(yaml: &Yaml) -> Node {
        match yaml {
            Yaml::Value(scalar) => Node::Text(match scalar {
                Scalar::Null => String::new(),
                Scalar::Boolean(b) => b.to_string(),
                Scalar::Integer(i) => i.to_string(),
                Scalar::FloatingPoint(f) => f.to_string(),
                Scalar::String(s) => s.to_string(),
            }),
            Yaml::Sequence(items) => Node::List(items.iter().map(Node::from_yaml).collect()),
            Yaml::Mapping(entries) => Node::Map(
                entries
                    .iter()
                    .map(|(k, v)| match Node::from_yaml(k) {
                        Node::Text(key) => (key, Node::from_yaml(v)),
                        other => panic!("a mapping key that is not text: {other:?}"),
                    })
                    .collect(),
            ),
            Yaml::Tagged(tag, inner) => {
                let name = tag.suffix.clone();
                assert_eq!(tag.handle, "!", "unexpected tag {tag:?}");
                Node::Tagged(name, Box::new(Node::from_yaml(inner)))
            }
            other => panic!("unexpected YAML node {other:?}"),
        }
    }

    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The node at `path`, or a panic naming it.
    fn at(&self, path: &[&str]) -> &Node {
        path.iter().fold(self, |node, key| {
            node.get(key)
                .unwrap_or_else(|| panic!("template.yaml has no {}", path.join(".")))
        })
    }

    fn text(&self) -> &str {
        match self {
            Node::Text(text) => text,
            other => panic!("expected text, found {other:?}"),
        }
    }

    fn entries(&self) -> &[(String, Node)] {
        match self {
            Node::Map(entries) => entries,
            other => panic!("expected a mapping, found {other:?}"),
        }
    }

    fn items(&self) -> &[Node] {
        match self {
            Node::List(items) => items,
            other => panic!("expected a list, found {other:?}"),
        }
    }

    /// An intrinsic function, short (`!Sub x`) or long (`{"Fn::Sub": x}`), as (name, argument).
    fn intrinsic(&self) -> Option<(&str, &Node)> {
        match self {
            Node::Tagged(name, argument) => Some((name, argument)),
            Node::Map(entries) if entries.len() == 1 => {
                let (key, argument) = &entries[0];
                let name = key
                    .strip_prefix("Fn::")
                    .or((key == "Ref").then_some("Ref"))?;
                Some((name, argument))
            }
            _ => None,
        }
    }

    /// `!Ref name`, if this node is one.
    fn reference(&self) -> Option<&str> {
        match self.intrinsic() {
            Some(("Ref", name)) => Some(name.text()),
            _ => None,
        }
    }
}

/// What a deployer must give (no default); everything else is at its default.
const DEPLOYER_VALUES: [(&str, &str); 2] = [
    ("SesIdentity", "example.com"),
    ("EmailFrom", "BlockAuth <no-reply@example.com>"),
];

struct Template(Node);

impl Template {
    fn load() -> Template {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
        let text = std::fs::read_to_string(path).expect("template.yaml at the repository root");
        let documents = Yaml::load_from_str(&text).expect("template.yaml is YAML");
        assert_eq!(documents.len(), 1, "template.yaml is one document");
        Template(Node::from_yaml(&documents[0]))
    }

    fn resources(&self) -> &[(String, Node)] {
        self.0.at(&["Resources"]).entries()
    }

    fn resource(&self, name: &str) -> &Node {
        self.0.at(&["Resources", name])
    }

    /// Every function resource, with the feature whose crate it builds.
    fn functions(&self) -> Vec<(&str, Feature, &Node)> {
        self.resources()
            .iter()
            .filter(|(_, r)| r.at(&["Type"]).text() == "AWS::Serverless::Function")
            .map(|(name, function)| {
                assert_eq!(
                    function.at(&["Metadata", "BuildMethod"]).text(),
                    "rust-cargolambda"
                );
                let binary = function
                    .at(&["Metadata", "BuildProperties", "Binary"])
                    .text();
                // SAM builds in the crate's folder, where cargo picks that crate.
                let crate_dir = format!("functions/{binary}");
                assert_eq!(function.at(&["Properties", "CodeUri"]).text(), crate_dir);
                let manifest = format!("{}/../{crate_dir}/Cargo.toml", env!("CARGO_MANIFEST_DIR"));
                assert!(std::path::Path::new(&manifest).exists(), "{manifest}");
                let feature = Feature::ALL
                    .into_iter()
                    .find(|f| f.function() == binary)
                    .unwrap_or_else(|| panic!("{name} builds {binary:?}, which is no feature's"));
                (name.as_str(), feature, function)
            })
            .collect()
    }

    /// A parameter's value at deployment: its default, or what a deployer gives.
    fn parameter(&self, name: &str) -> Option<String> {
        let parameter = self.0.at(&["Parameters"]).get(name)?;
        let value = match parameter.get("Default") {
            Some(default) => default.text().to_owned(),
            None => DEPLOYER_VALUES
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| {
                    panic!("parameter {name} has no default: add it to DEPLOYER_VALUES")
                })
                .1
                .to_owned(),
        };
        Some(value)
    }

    /// What `!Ref name` is: a parameter's value, a pseudo parameter, or a resource's name.
    fn reference(&self, name: &str) -> String {
        if let Some(value) = self.parameter(name) {
            return value;
        }
        if let Some(pseudo) = name.strip_prefix("AWS::") {
            return format!("<{pseudo}>");
        }
        assert!(
            self.0.at(&["Resources"]).get(name).is_some(),
            "!Ref {name}: no such parameter or resource"
        );
        format!("<{name}>")
    }

    /// A text value as deployed with the parameters' defaults.
    fn evaluate(&self, node: &Node) -> String {
        let Some((function, argument)) = node.intrinsic() else {
            return node.text().to_owned();
        };
        match function {
            "Ref" => self.reference(argument.text()),
            "Sub" => self.substitute(argument.text()),
            "Join" => {
                let [separator, parts] = argument.items() else {
                    panic!("!Join takes a separator and a list")
                };
                let parts: Vec<String> = parts.items().iter().map(|p| self.evaluate(p)).collect();
                parts.join(separator.text())
            }
            "If" => {
                let [condition, then, otherwise] = argument.items() else {
                    panic!("!If takes a condition and two values")
                };
                if self.condition(condition.text()) {
                    self.evaluate(then)
                } else {
                    self.evaluate(otherwise)
                }
            }
            "GetAtt" => format!("<{}>", argument.text()),
            other => panic!("the test cannot evaluate !{other}"),
        }
    }

    /// `!Sub` text: `${Name}` is `!Ref Name`, `${Name.Attribute}` is `!GetAtt`.
    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("a closed ${...}") + start;
            let name = &rest[start + 2..end];
            if name.contains('.') && !name.starts_with("AWS::") {
                out.push_str(&format!("<{name}>"));
            } else {
                out.push_str(&self.reference(name));
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn condition(&self, name: &str) -> bool {
        self.holds(self.0.at(&["Conditions", name]))
    }

    /// A condition's value with the parameters' defaults.
    fn holds(&self, node: &Node) -> bool {
        match node.intrinsic() {
            Some(("Equals", argument)) => {
                let [a, b] = argument.items() else {
                    panic!("!Equals takes two values")
                };
                self.evaluate(a) == self.evaluate(b)
            }
            Some(("Not", argument)) => !self.holds(&argument.items()[0]),
            Some(("And", argument)) => argument.items().iter().all(|c| self.holds(c)),
            Some(("Condition", name)) => self.condition(name.text()),
            other => panic!("the test cannot evaluate the condition {other:?}"),
        }
    }

    /// A function's environment: the global variables, then its own.
    fn environment<'a>(&'a self, function: &'a Node) -> BTreeMap<&'a str, &'a Node> {
        let global = self
            .0
            .at(&["Globals", "Function", "Environment", "Variables"]);
        let own = function
            .at(&["Properties"])
            .get("Environment")
            .map(|e| e.at(&["Variables"]));
        global
            .entries()
            .iter()
            .chain(own.map(Node::entries).unwrap_or_default())
            .map(|(name, value)| (name.as_str(), value))
            .collect()
    }
}

#[test]
fn each_function_deploys_exactly_the_routes_its_code_serves() {
    let template = Template::load();
    let environment = template
        .0
        .at(&["Globals", "Function", "Environment", "Variables"]);
    let base_path = template.evaluate(environment.at(&["BLOCKAUTH_BASE_PATH"]));
    let functions = template.functions();
    for (feature, routes) in FEATURES {
        let (name, _, function) = functions
            .iter()
            .find(|(_, f, _)| *f == feature)
            .unwrap_or_else(|| panic!("template.yaml has no function for {feature:?}"));
        assert_eq!(*name, format!("{feature:?}Function"));
        // API Gateway routes `/x` and `/x/` alike to the route `/x`.
        let served: BTreeSet<(String, String)> = routes()
            .table()
            .iter()
            .map(|(method, path)| {
                let bare = format!("{base_path}{}", path.trim_end_matches('/'));
                (method.to_string(), bare)
            })
            .collect();
        let events = function.at(&["Properties", "Events"]).entries();
        let deployed: BTreeSet<(String, String)> = events
            .iter()
            .map(|(event, e)| {
                assert_eq!(e.at(&["Type"]).text(), "HttpApi", "{name}.{event}");
                let properties = e.at(&["Properties"]);
                assert_eq!(properties.at(&["ApiId"]).reference(), Some("Api"));
                // SAM refuses a Path that is not literal text.
                (
                    properties.at(&["Method"]).text().to_owned(),
                    properties.at(&["Path"]).text().to_owned(),
                )
            })
            .collect();
        assert_eq!(events.len(), deployed.len(), "{name} repeats a route");
        assert_eq!(
            deployed, served,
            "{name}: template routes against code routes"
        );
    }
    // The template deploys only what the code serves (the social and passkey functions
    // join it with their crates).
    for (name, feature, _) in &functions {
        assert!(
            FEATURES.iter().any(|(f, _)| f == feature),
            "{name} deploys {feature:?}, which the code does not serve"
        );
    }
}

/// A browser calls the API from another origin after a preflight, which API Gateway answers
/// from the CORS configuration: a method missing there is a route no browser can call.
#[test]
fn a_browser_may_call_every_method_the_routes_have() {
    let template = Template::load();
    let allowed = template
        .resource("Api")
        .at(&["Properties", "CorsConfiguration", "AllowMethods"])
        .items()
        .iter()
        .map(|m| m.text().to_owned())
        .collect::<Vec<_>>();
    for (feature, routes) in FEATURES {
        for (method, path) in routes().table() {
            assert!(
                allowed.contains(&method.to_string()),
                "{feature:?}: {method} {path} is not in the Api's CORS AllowMethods {allowed:?}"
            );
        }
    }
}

#[test]
fn each_function_is_deployed_only_when_its_feature_is_enabled() {
    let template = Template::load();
    for (name, feature, function) in template.functions() {
        let parameter = format!("Enable{feature:?}");
        let declared = template.0.at(&["Parameters", &parameter]);
        assert_eq!(declared.at(&["Default"]).text(), "true", "{parameter}");
        let allowed: Vec<&str> = declared
            .at(&["AllowedValues"])
            .items()
            .iter()
            .map(Node::text)
            .collect();
        assert_eq!(allowed, ["true", "false"], "{parameter}");

        let condition = function.at(&["Condition"]).text();
        // `!Equals [!Ref Enable<Feature>, "true"]`, or that `!And` another condition (the
        // published keys: an asymmetric algorithm).
        let mut flag_condition = template.0.at(&["Conditions", condition]);
        if let Some(("And", conditions)) = flag_condition.intrinsic() {
            flag_condition = &conditions.items()[0];
        }
        let Some(("Equals", argument)) = flag_condition.intrinsic() else {
            panic!("{name}: condition {condition} is not an !Equals");
        };
        let [flag, on] = argument.items() else {
            panic!("{condition}: !Equals takes two values")
        };
        assert_eq!(flag.reference(), Some(parameter.as_str()), "{condition}");
        assert_eq!(on.text(), "true", "{condition}");

        // Its log group comes and goes with it.
        let logs = function
            .at(&["Properties", "LoggingConfig", "LogGroup"])
            .reference()
            .unwrap_or_else(|| panic!("{name}: LogGroup is a !Ref"));
        let log_group = template.resource(logs);
        assert_eq!(log_group.at(&["Condition"]).text(), condition, "{logs}");
        assert!(
            log_group
                .at(&["Properties"])
                .get("RetentionInDays")
                .is_some()
        );
    }
}

#[test]
fn every_setting_reaches_every_function_and_the_defaults_are_the_codes() {
    let template = Template::load();
    let names: BTreeSet<String> = Settings::names().iter().map(|n| n.to_string()).collect();
    let functions = template.functions();
    for (name, _, function) in &functions {
        // Anything else is only for `sam local`, and absent when deployed.
        for (variable, value) in template.environment(function) {
            if !variable.starts_with("BLOCKAUTH_") {
                assert_eq!(template.evaluate(value), "<NoValue>", "{name}: {variable}");
            }
        }
        let values: BTreeMap<String, String> = template
            .environment(function)
            .into_iter()
            .filter_map(|(variable, value)| {
                let setting = variable.strip_prefix("BLOCKAUTH_")?;
                Some((setting.to_owned(), template.evaluate(value)))
            })
            .collect();
        let passed: BTreeSet<String> = values.keys().cloned().collect();
        assert_eq!(
            passed, names,
            "{name}: BLOCKAUTH_* variables against Settings::names()"
        );

        let deployed = Settings::from_values(&values)
            .unwrap_or_else(|e| panic!("{name} would not start with the defaults: {e}"));
        assert_eq!(deployed.table_name, "<Table>");
        assert_eq!(deployed.signing_key_secret.as_deref(), Some("<SigningKey>"));
        assert_eq!(deployed.mfa.key_secret.as_deref(), Some("<TotpKey>"));
        assert_eq!(
            deployed.ses_configuration_set.as_deref(),
            Some("<MailConfigurationSet>")
        );
        // Deployed with the defaults: every function but the published keys (HS256).
        let features: BTreeSet<Feature> = functions
            .iter()
            .filter(|(_, _, f)| template.condition(f.at(&["Condition"]).text()))
            .map(|(_, f, _)| *f)
            .collect();
        assert!(!features.contains(&Feature::Keys) && features.len() == functions.len() - 1);
        assert_eq!(
            deployed.features, features,
            "{name}: FEATURES names the deployed ones"
        );

        // Every other setting is the code's default.
        let mfa = blockauth::mfa::settings::MfaSettings {
            key_secret: deployed.mfa.key_secret.clone(),
            ..Default::default()
        };
        let expected = Settings {
            table_name: deployed.table_name.clone(),
            signing_key_secret: deployed.signing_key_secret.clone(),
            ses_configuration_set: deployed.ses_configuration_set.clone(),
            mfa,
            features,
            email_from: template.reference("EmailFrom"),
            ..Settings::default()
        };
        let (deployed, expected) = (format!("{deployed:#?}"), format!("{expected:#?}"));
        let first_difference = deployed.lines().zip(expected.lines()).find(|(d, e)| d != e);
        assert!(
            deployed == expected,
            "{name}: deployed with the defaults, (template, code): {first_difference:?}"
        );
    }
}

#[test]
fn the_table_is_the_one_the_code_uses() {
    let template = Template::load();
    let table_node = template.resource("Table");
    assert_eq!(table_node.at(&["Type"]).text(), "AWS::DynamoDB::Table");
    let properties = table_node.at(&["Properties"]);
    let pairs = |key: &str, a: &str, b: &str| -> Vec<(String, String)> {
        properties
            .at(&[key])
            .items()
            .iter()
            .map(|item| {
                (
                    item.at(&[a]).text().to_owned(),
                    item.at(&[b]).text().to_owned(),
                )
            })
            .collect()
    };
    let (pk, sk) = (table::PARTITION_KEY.to_owned(), table::SORT_KEY.to_owned());
    assert_eq!(
        pairs("KeySchema", "AttributeName", "KeyType"),
        [
            (pk.clone(), "HASH".to_owned()),
            (sk.clone(), "RANGE".to_owned())
        ]
    );
    assert_eq!(
        pairs("AttributeDefinitions", "AttributeName", "AttributeType"),
        [(pk, "S".to_owned()), (sk, "S".to_owned())]
    );
    for index in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        assert!(properties.get(index).is_none(), "the code uses no {index}");
    }
    let ttl = properties.at(&["TimeToLiveSpecification"]);
    assert_eq!(ttl.at(&["AttributeName"]).text(), table::TTL_ATTRIBUTE);
    assert_eq!(ttl.at(&["Enabled"]).text(), "true");
    assert_eq!(properties.at(&["BillingMode"]).text(), "PAY_PER_REQUEST");
}

#[test]
fn the_generated_signing_key_is_one_the_code_accepts() {
    let template = Template::load();
    let secret = template.resource("SigningKey");
    assert_eq!(secret.at(&["Type"]).text(), "AWS::SecretsManager::Secret");
    let generate = secret.at(&["Properties", "GenerateSecretString"]);
    assert!(
        generate.get("SecretStringTemplate").is_none(),
        "the key is the whole secret string, not a JSON field"
    );
    // Spaces would be trimmed away by the code.
    assert!(
        generate
            .get("IncludeSpace")
            .is_none_or(|n| n.text() == "false")
    );
    let length: usize = generate.at(&["PasswordLength"]).text().parse().unwrap();
    assert!(SigningKey::from_text(&"k".repeat(length)).is_ok());
}

/// The roles a standalone IAM policy (`ClaimsHookInvoke`, ...) is attached to, each
/// `!If [FeatureOn, !Ref Role, !Ref AWS::NoValue]`.
fn policy_roles(template: &Template, policy: &str) -> BTreeSet<String> {
    template
        .resource(policy)
        .at(&["Properties", "Roles"])
        .items()
        .iter()
        .map(|role| {
            let (name, arguments) = role.intrinsic().expect("!If [FeatureOn, !Ref Role, ...]");
            assert_eq!(name, "If");
            arguments.items()[1].reference().expect("!Ref").to_owned()
        })
        .collect()
}

/// A standalone policy's one statement: under `condition`, `action` on a resource (a
/// `!Sub`) ending with `resource_end`.
fn assert_one_grant(
    template: &Template,
    policy: &str,
    condition: &str,
    action: &str,
    resource_end: &str,
) {
    let resource = template.resource(policy);
    assert_eq!(resource.at(&["Condition"]).text(), condition, "{policy}");
    let statements = resource
        .at(&["Properties", "PolicyDocument", "Statement"])
        .items();
    assert_eq!(statements.len(), 1, "{policy}");
    assert_eq!(statements[0].at(&["Action"]).text(), action, "{policy}");
    let (sub, arn) = statements[0].at(&["Resource"]).intrinsic().expect("!Sub");
    assert_eq!(sub, "Sub");
    assert!(
        arn.text().ends_with(resource_end),
        "{policy}: {}",
        arn.text()
    );
}

/// The roles of the functions whose manifest enables `capability` on `blockauth`.
fn roles_with_capability(template: &Template, capability: &str) -> BTreeSet<String> {
    template
        .functions()
        .iter()
        .filter(|(_, feature, _)| {
            let manifest = std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../functions")
                    .join(feature.function())
                    .join("Cargo.toml"),
            )
            .unwrap();
            manifest.contains(&format!("\"{capability}\""))
        })
        .map(|(name, _, _)| format!("{name}Role"))
        .collect()
}

/// The claims hook: only the functions built with `claims-hook` (those that sign in) may
/// invoke it, only it, and only when one is named.
#[test]
fn only_the_functions_that_sign_in_may_invoke_the_claims_hook() {
    let template = Template::load();
    assert_one_grant(
        &template,
        "ClaimsHookInvoke",
        "HasClaimsHook",
        "lambda:InvokeFunction",
        ":function:${ClaimsHookFunction}",
    );
    assert_eq!(
        policy_roles(&template, "ClaimsHookInvoke"),
        roles_with_capability(&template, "claims-hook")
    );
}

/// Your own delivery: only the functions that send messages (built with `mail`) may invoke
/// the delivery function or send to the delivery queue, only that one, and only when
/// DELIVERY names it; SES and SNS only with DELIVERY SES (the permissions walk checks that).
#[test]
fn only_the_functions_that_send_may_reach_the_delivery() {
    let template = Template::load();
    assert_one_grant(
        &template,
        "DeliveryInvoke",
        "DeliversToLambda",
        "lambda:InvokeFunction",
        ":function:${DeliveryTarget}",
    );
    assert_one_grant(
        &template,
        "DeliverySend",
        "DeliversToSqs",
        "sqs:SendMessage",
        ":${AWS::AccountId}:${DeliveryTarget}",
    );
    let sending = roles_with_capability(&template, "mail");
    assert_eq!(policy_roles(&template, "DeliveryInvoke"), sending);
    assert_eq!(policy_roles(&template, "DeliverySend"), sending);
}

/// Lifecycle events go to the named bus only, and only when one is named (which functions
/// publish is the permissions walk's to check).
#[test]
fn events_are_put_on_the_named_bus_only() {
    let template = Template::load();
    assert_one_grant(
        &template,
        "EventsPut",
        "HasEventBus",
        "events:PutEvents",
        ":event-bus/${EventBus}",
    );
}

/// With an asymmetric algorithm every function reads the token key set, and only it.
#[test]
fn with_an_asymmetric_algorithm_every_function_reads_the_key_set() {
    let template = Template::load();
    let read = template.resource("TokenKeysRead");
    assert_eq!(read.at(&["Condition"]).text(), "AsymmetricTokens");
    assert_eq!(
        template.resource("TokenKeys").at(&["Condition"]).text(),
        "AsymmetricTokens"
    );
    let statements = read
        .at(&["Properties", "PolicyDocument", "Statement"])
        .items();
    assert_eq!(statements.len(), 1);
    assert_eq!(
        statements[0].at(&["Action"]).text(),
        "secretsmanager:GetSecretValue"
    );
    assert_eq!(
        statements[0].at(&["Resource"]).reference(),
        Some("TokenKeys")
    );
    let every: BTreeSet<String> = template
        .functions()
        .iter()
        .map(|(name, _, _)| format!("{name}Role"))
        .collect();
    assert_eq!(policy_roles(&template, "TokenKeysRead"), every);
}

/// The keys function rotates the key set (the calls of `session::rotation`, on the key set
/// only), on Secrets Manager's schedule and at deployment, and nothing else may.
#[test]
fn the_keys_function_rotates_the_key_set_and_only_it() {
    let template = Template::load();
    let schedule = template.resource("TokenKeysRotation");
    assert_eq!(schedule.at(&["Condition"]).text(), "KeysOn");
    let properties = schedule.at(&["Properties"]);
    assert_eq!(properties.at(&["SecretId"]).reference(), Some("TokenKeys"));
    let (getatt, target) = properties
        .at(&["RotationLambdaARN"])
        .intrinsic()
        .expect("!GetAtt");
    assert_eq!((getatt, target.text()), ("GetAtt", "KeysFunction.Arn"));
    assert_eq!(properties.at(&["RotateImmediatelyOnUpdate"]).text(), "true");

    let rotate = template.resource("TokenKeysRotate");
    let statements = rotate
        .at(&["Properties", "PolicyDocument", "Statement"])
        .items();
    assert_eq!(statements.len(), 1);
    let actions: BTreeSet<&str> = statements[0]
        .at(&["Action"])
        .items()
        .iter()
        .map(Node::text)
        .collect();
    assert_eq!(
        actions,
        BTreeSet::from([
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecretVersionStage",
        ])
    );
    assert_eq!(
        statements[0].at(&["Resource"]).reference(),
        Some("TokenKeys")
    );
    let roles: Vec<Option<&str>> = rotate
        .at(&["Properties", "Roles"])
        .items()
        .iter()
        .map(Node::reference)
        .collect();
    assert_eq!(roles, [Some("KeysFunctionRole")]);
    let invoke = template.resource("KeysRotationInvoke");
    assert_eq!(
        invoke.at(&["Properties", "Principal"]).text(),
        "secretsmanager.amazonaws.com"
    );
}

/// The example route: behind API Gateway's JWT authorizer, pointed at our issuer (the
/// issuer our functions sign with, whose discovery document names the keys) and the access
/// tokens' audience; only with RS256, the one algorithm that authorizer takes.
#[test]
fn the_example_route_trusts_our_access_tokens_only_with_rs256() {
    let template = Template::load();
    let on = format!("{:?}", template.0.at(&["Conditions", "ExampleOn"]));
    assert!(on.contains("RS256") && on.contains("KeysOn"), "{on}");
    let route = template.resource("ExampleRoute");
    assert_eq!(route.at(&["Condition"]).text(), "ExampleOn");
    assert_eq!(route.at(&["Properties", "AuthorizationType"]).text(), "JWT");
    let jwt = template
        .resource("ExampleAuthorizer")
        .at(&["Properties", "JwtConfiguration"]);
    let issuer = jwt.at(&["Issuer"]).intrinsic().expect("!Sub").1.text();
    let signed_with = template
        .0
        .at(&[
            "Globals",
            "Function",
            "Environment",
            "Variables",
            "BLOCKAUTH_TOKEN_ISSUER",
        ])
        .intrinsic()
        .expect("!If")
        .1
        .items()[1]
        .intrinsic()
        .expect("!Sub")
        .1
        .text();
    assert_eq!(issuer, signed_with);
    let audience: Vec<Option<&str>> = jwt
        .at(&["Audience"])
        .items()
        .iter()
        .map(Node::reference)
        .collect();
    assert_eq!(audience, [Some("TokenAudience")]);
}

/// The key that seals TOTP secrets is read by the mfa function, and by no other: a function
/// that signs in never needs it (a sign-in only defers to the second factor).
#[test]
fn only_the_mfa_function_reads_the_totp_key() {
    let template = Template::load();
    let reads_it = |function: &Node| {
        function
            .at(&["Properties", "Policies"])
            .items()
            .iter()
            .flat_map(|policy| policy.at(&["Statement"]).items())
            .filter_map(|statement| statement.get("Resource"))
            .any(|resource| match resource {
                Node::List(items) => items.iter().any(|r| r.reference() == Some("TotpKey")),
                single => single.reference() == Some("TotpKey"),
            })
    };
    let readers: Vec<&str> = template
        .functions()
        .into_iter()
        .filter(|(_, _, function)| reads_it(function))
        .map(|(name, _, _)| name)
        .collect();
    assert_eq!(readers, ["MfaFunction"]);
    let variables = template
        .0
        .at(&["Globals", "Function", "Environment", "Variables"]);
    assert_eq!(
        variables.at(&["BLOCKAUTH_TOTP_KEY_SECRET"]).reference(),
        Some("TotpKey")
    );
}

/// What a deployment does against floods and abuse, by default; each is a parameter.
#[test]
fn a_deployment_defends_itself_by_default() {
    let template = Template::load();
    let evaluate = |node: &Node| template.evaluate(node);
    // API Gateway throttles each route before any function runs.
    let routes = template
        .resource("Api")
        .at(&["Properties", "DefaultRouteSettings"]);
    assert_eq!(evaluate(routes.at(&["ThrottlingRateLimit"])), "50");
    assert_eq!(evaluate(routes.at(&["ThrottlingBurstLimit"])), "100");
    // No concurrency cap unless the deployer chooses one: a cap turns a flood into an outage.
    let reserved = template
        .0
        .at(&["Globals", "Function", "ReservedConcurrentExecutions"]);
    assert_eq!(evaluate(reserved), "<NoValue>");
    // The table refuses deletion, and outlives the stack.
    let table = template.resource("Table");
    assert_eq!(
        evaluate(table.at(&["Properties", "DeletionProtectionEnabled"])),
        "true"
    );
    assert_eq!(table.at(&["DeletionPolicy"]).text(), "Retain");
    // Mail goes out under a configuration set that suppresses bounces and complaints.
    let reasons: Vec<&str> = template
        .resource("MailConfigurationSet")
        .at(&["Properties", "SuppressionOptions", "SuppressedReasons"])
        .items()
        .iter()
        .map(Node::text)
        .collect();
    assert_eq!(reasons, ["BOUNCE", "COMPLAINT"]);
    // Every alarm notifies the one topic.
    let of_type = |kind: &str| -> Vec<&(String, Node)> {
        template
            .resources()
            .iter()
            .filter(|(_, r)| r.at(&["Type"]).text() == kind)
            .collect()
    };
    let alarms = of_type("AWS::CloudWatch::Alarm");
    let names: BTreeSet<&str> = alarms.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "BounceRateAlarm",
            "ComplaintRateAlarm",
            "ServerErrorsAlarm",
            "ThrottlesAlarm",
            "TokenReuseAlarm"
        ])
    );
    for (name, alarm) in alarms {
        let actions = alarm.at(&["Properties", "AlarmActions"]).items();
        assert_eq!(actions.len(), 1, "{name}");
        assert_eq!(actions[0].reference(), Some("AlarmTopic"), "{name}");
    }
    // Every function's logs expire.
    let groups = of_type("AWS::Logs::LogGroup");
    assert_eq!(groups.len(), template.functions().len());
    for (name, group) in groups {
        assert_eq!(
            evaluate(group.at(&["Properties", "RetentionInDays"])),
            "30",
            "{name}"
        );
    }
    // The reuse alarm counts the warning the code logs.
    let pattern = template
        .resource("TokenReuseMetric")
        .at(&["Properties", "FilterPattern"])
        .text();
    let message = pattern.split('"').nth(1).expect("a quoted message");
    let code = include_str!("../../../shared/src/session/refresh_family.rs");
    assert!(
        code.contains(&format!("\"{message}\"")),
        "refresh_family.rs no longer logs {message:?}"
    );
}

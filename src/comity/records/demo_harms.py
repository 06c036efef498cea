"""The harms of the demo data other than attacks: detention, disappearance, killing,
pillage, displacement, sexual violence, recruitment of children, attacks on journalists and
sieges, each a :class:`~comity.records.demo_stories.Story` with its classification and its
words in English, French, Arabic and Ukrainian (attacks are in :mod:`.demo_stories`).
"""

from __future__ import annotations

from comity.records.demo_stories import Act, Story

HARMS = (
    Story(
        key="detention",
        weight=16,
        event_types=("arrests.checkpoint", "arrests.house-raid"),
        violations=("detention.no-legal-basis", "torture.torture"),
        acts=(
            Act(("art7.1.e",), ("detention.no-legal-basis",), "Arbitrary detention"),
            Act(
                ("art7.1.f", "art8.2.c.i"), ("torture.torture",), "Torture in detention", True, 0.6
            ),
        ),
        victims=(1, 3),
        outcome="Detained",
        ages=(16, 70),
        sex="male",
        titles={
            "en": "Arrests and ill-treatment near {place}",
            "fr": "Arrestations et mauvais traitements près de {place}",
            "ar": "اعتقالات وسوء معاملة قرب {place}",
            "uk": "Затримання та катування, {place}",
        },
        descriptions={
            "en": (
                "{when}, members of {unit} stopped civilians at a checkpoint on the road out "
                "of {place} and took them to an unofficial detention site. Released detainees "
                "describe beatings during interrogation and being held without charge.",
                "{when}, soldiers of {unit} searched homes in {place} and arrested men of "
                "fighting age. Families were not told where they were taken; two were later "
                "released with injuries consistent with beatings.",
            ),
            "fr": (
                "{when}, des hommes armés ont arrêté des civils à un point de contrôle près de "
                "{place} et les ont conduits vers un lieu de détention non officiel. Les "
                "personnes libérées décrivent des coups pendant les interrogatoires.",
            ),
            "ar": (
                "{when} أوقف مسلحون مدنيين عند حاجز قرب {place} واقتادوهم إلى مكان احتجاز غير "
                "رسمي. ويروي المفرج عنهم أنهم تعرضوا للضرب أثناء التحقيق واحتُجزوا دون أي تهمة.",
            ),
            "uk": (
                "{when} озброєні люди затримали цивільних на блокпосту біля громади {place} та "
                "доправили їх до неофіційного місця утримання. Звільнені розповідають про "
                "побиття під час допитів та утримання без обвинувачення.",
            ),
        },
    ),
    Story(
        key="disappearance",
        weight=8,
        event_types=("abduction.disappearance",),
        violations=("disappearance.enforced-disappearance",),
        acts=(
            Act(("art7.1.i",), ("disappearance.enforced-disappearance",), "Enforced disappearance"),
        ),
        victims=(1, 2),
        outcome="Missing",
        ages=(15, 75),
        titles={
            "en": "Enforced disappearance in {place}",
            "fr": "Disparition forcée à {place}",
            "ar": "اختفاء قسري في {place}",
            "uk": "Насильницьке зникнення, {place}",
        },
        descriptions={
            "en": (
                "{when}, armed men in uniform took residents of {place} from their homes. "
                "Their families have asked the authorities where they are held and received "
                "no answer.",
            ),
            "fr": (
                "{when}, des hommes armés en uniforme ont emmené des habitants de {place} "
                "depuis leur domicile. Leurs familles ont interrogé les autorités, sans réponse.",
            ),
            "ar": (
                "{when} اقتاد مسلحون يرتدون زياً عسكرياً عدداً من سكان {place} من منازلهم. "
                "وسألت عائلاتهم السلطات عن أماكن احتجازهم دون أن تتلقى أي رد.",
            ),
            "uk": (
                "{when} озброєні люди в формі забрали мешканців громади {place} з їхніх "
                "домівок. Родини зверталися до влади, але відповіді не отримали.",
            ),
        },
    ),
    Story(
        key="execution",
        weight=6,
        event_types=("violence-against-civilians.execution",),
        violations=("life.extrajudicial-execution",),
        acts=(
            Act(("art8.2.c.i", "art7.1.a"), ("life.extrajudicial-execution",), "Wilful killing"),
            Act(("art8.2.c.iv",), ("fair-trial.tribunal",), "Execution without trial", True, 0.3),
        ),
        victims=(1, 4),
        outcome="Killed",
        sex="male",
        ages=(17, 65),
        titles={
            "en": "Killing of detained men near {place}",
            "fr": "Exécution de détenus près de {place}",
            "ar": "إعدام محتجزين قرب {place}",
            "uk": "Страта затриманих, {place}",
        },
        descriptions={
            "en": (
                "{when}, bodies were found on the edge of {place} with their hands bound. "
                "Relatives say the men had been detained by {unit} days earlier.",
            ),
            "fr": (
                "{when}, des corps ont été retrouvés en bordure de {place}, les mains liées. "
                "Selon leurs proches, ces hommes avaient été arrêtés quelques jours plus tôt.",
            ),
            "ar": (
                "{when} عُثر على جثث عند أطراف {place} وأيدي أصحابها مقيدة. ويقول أقاربهم إن "
                "الرجال اعتُقلوا قبل أيام على يد مسلحين.",
            ),
            "uk": (
                "{when} на околиці громади {place} знайшли тіла зі зв'язаними руками. Родичі "
                "кажуть, що кількома днями раніше цих чоловіків затримали озброєні люди.",
            ),
        },
    ),
    Story(
        key="looting",
        weight=9,
        event_types=("property.looting", "property.arson"),
        violations=("property.pillage", "property.homes"),
        acts=(
            Act(("art8.2.e.v",), ("property.pillage",), "Pillage", False),
            Act(("art8.2.e.xii",), ("property.homes",), "Destruction of homes", True, 0.7),
        ),
        victims=(1, 3),
        outcome="Lost home",
        ages=(18, 85),
        by_state=False,
        titles={
            "en": "Looting and burning of homes in {place}",
            "fr": "Pillage et incendie de maisons à {place}",
            "ar": "نهب وحرق منازل في {place}",
            "uk": "Мародерство та підпали будинків, {place}",
        },
        descriptions={
            "en": (
                "{when}, after fighting moved away from {place}, men of {unit} went from house "
                "to house taking livestock, fuel and food, and set fire to several homes.",
            ),
            "fr": (
                "{when}, après le départ des combats, des hommes armés ont pillé les maisons de "
                "{place}, emportant bétail, carburant et vivres, puis ont incendié des maisons.",
            ),
            "ar": (
                "{when} وبعد انتقال القتال بعيداً عن {place}، دخل مسلحون المنازل ونهبوا المواشي "
                "والوقود والطعام، ثم أضرموا النار في عدد من البيوت.",
            ),
            "uk": (
                "{when}, після того як бої відійшли від громади {place}, озброєні люди "
                "грабували будинки, забирали худобу, пальне та їжу, кілька осель підпалили.",
            ),
        },
    ),
    Story(
        key="displacement",
        weight=7,
        event_types=("displacement.expulsion",),
        violations=("displacement.forcible-transfer",),
        acts=(
            Act(
                ("art7.1.d", "art8.2.e.viii"),
                ("displacement.forcible-transfer",),
                "Forcible transfer of the population",
            ),
        ),
        victims=(1, 3),
        outcome="Displaced",
        titles={
            "en": "Forced evacuation of {place}",
            "fr": "Évacuation forcée de {place}",
            "ar": "تهجير قسري لسكان {place}",
            "uk": "Примусове виселення, {place}",
        },
        descriptions={
            "en": (
                "{when}, residents of {place} were ordered by loudspeaker to leave within two "
                "hours. Families were taken by truck towards {other} and have not been "
                "allowed back.",
            ),
            "fr": (
                "{when}, les habitants de {place} ont reçu l'ordre de partir dans les deux "
                "heures. Les familles ont été conduites en camion vers {other}.",
            ),
            "ar": (
                "{when} أُمر سكان {place} عبر مكبرات الصوت بالمغادرة خلال ساعتين، ونُقلت "
                "العائلات بالشاحنات نحو {other} ولم يُسمح لها بالعودة.",
            ),
            "uk": (
                "{when} мешканцям громади {place} через гучномовці наказали виїхати за дві "
                "години. Родини вивезли вантажівками в напрямку громади {other}.",
            ),
        },
    ),
    Story(
        key="sexual-violence",
        weight=5,
        event_types=("sexual-violence.in-detention", "sexual-violence.rape"),
        violations=("sgbv.rape",),
        acts=(Act(("art7.1.g.rape", "art8.2.e.vi"), ("sgbv.rape",), "Rape"),),
        victims=(1, 2),
        outcome="Survivor",
        sex="female",
        ages=(15, 60),
        protected=1.0,
        titles={
            "en": "Sexual violence during detention in {place}",
            "fr": "Violences sexuelles en détention à {place}",
            "ar": "عنف جنسي أثناء الاحتجاز في {place}",
            "uk": "Сексуальне насильство під час утримання, {place}",
        },
        descriptions={
            "en": (
                "{when}, women held at a makeshift detention site in {place} were subjected "
                "to sexual violence by guards. The survivors' identities are protected.",
            ),
            "fr": (
                "{when}, des femmes détenues dans un lieu improvisé à {place} ont subi des "
                "violences sexuelles de la part des gardiens. Leur identité est protégée.",
            ),
            "ar": (
                "{when} تعرضت نساء محتجزات في مكان احتجاز مؤقت في {place} لعنف جنسي على يد "
                "الحراس. هويات الناجيات محمية.",
            ),
            "uk": (
                "{when} жінки, яких утримували в імпровізованому місці ув'язнення в громаді "
                "{place}, зазнали сексуального насильства. Особи постраждалих захищено.",
            ),
        },
    ),
    Story(
        key="recruitment",
        weight=5,
        event_types=("abduction.forced-recruitment",),
        violations=("children.recruitment",),
        acts=(Act(("art8.2.e.vii",), ("children.recruitment",), "Conscripting children"),),
        victims=(1, 3),
        outcome="Recruited",
        sex="male",
        ages=(13, 17),
        protected=0.5,
        occupation="pupil",
        by_state=False,
        titles={
            "en": "Recruitment of children in {place}",
            "fr": "Recrutement d'enfants à {place}",
            "ar": "تجنيد أطفال في {place}",
            "uk": "Вербування дітей, {place}",
        },
        descriptions={
            "en": (
                "{when}, recruiters from {unit} took boys aged 14 to 17 from the school yard "
                "in {place} and drove them to a training camp. Parents who protested were "
                "threatened.",
            ),
            "fr": (
                "{when}, des recruteurs armés ont emmené des garçons de 14 à 17 ans depuis la "
                "cour de l'école de {place} vers un camp d'entraînement.",
            ),
            "ar": (
                "{when} اقتاد مجنِّدون مسلحون فتياناً بين 14 و17 عاماً من باحة المدرسة في "
                "{place} إلى معسكر تدريب، وهُدِّد الأهالي الذين اعترضوا.",
            ),
            "uk": (
                "{when} озброєні вербувальники забрали хлопців віком від 14 до 17 років зі "
                "шкільного подвір'я в громаді {place} та відвезли до тренувального табору.",
            ),
        },
    ),
    Story(
        key="journalist",
        weight=4,
        event_types=("violence-against-civilians.assault",),
        violations=("expression.attack-on-journalist",),
        acts=(Act(("art8.2.c.i",), ("expression.attack-on-journalist",), "Cruel treatment"),),
        victims=(1, 1),
        sex="female",
        ages=(22, 60),
        occupation="journalist",
        titles={
            "en": "Attack on a journalist in {place}",
            "fr": "Agression d'une journaliste à {place}",
            "ar": "اعتداء على صحفية في {place}",
            "uk": "Напад на журналістку, {place}",
        },
        descriptions={
            "en": (
                "{when}, a local reporter covering the aftermath of fighting in {place} was "
                "beaten and had her equipment seized by men who said they belonged to {unit}.",
            ),
            "fr": (
                "{when}, une journaliste locale qui couvrait les suites des combats à {place} a "
                "été frappée et son matériel saisi par des hommes armés.",
            ),
            "ar": (
                "{when} تعرضت صحفية محلية كانت تغطي تبعات القتال في {place} للضرب وصودرت "
                "معداتها على يد مسلحين.",
            ),
            "uk": (
                "{when} місцеву журналістку, яка висвітлювала наслідки боїв на території "
                "громади {place}, побили озброєні люди та забрали її обладнання.",
            ),
        },
    ),
    Story(
        key="siege",
        weight=6,
        event_types=("siege.aid-obstruction",),
        violations=("escr.humanitarian-access", "escr.food-water"),
        acts=(Act(("art8.2.e.xix",), ("escr.food-water",), "Starvation of civilians", False),),
        victims=(0, 1),
        outcome="Affected",
        ages=(1, 85),
        titles={
            "en": "Aid convoy blocked outside {place}",
            "fr": "Convoi humanitaire bloqué aux portes de {place}",
            "ar": "منع قافلة مساعدات من دخول {place}",
            "uk": "Гуманітарний конвой не пропустили до громади {place}",
        },
        descriptions={
            "en": (
                "{when}, a convoy carrying flour and medicine for {place} was stopped at a "
                "checkpoint held by {unit} and turned back. Residents report shortages of "
                "food, water and insulin.",
            ),
            "fr": (
                "{when}, un convoi de farine et de médicaments destiné à {place} a été arrêté "
                "à un point de contrôle et refoulé. Les habitants manquent de nourriture.",
            ),
            "ar": (
                "{when} أُوقفت عند حاجز قافلة تحمل الطحين والأدوية إلى {place} وأُجبرت على "
                "العودة. ويشكو السكان من نقص الغذاء والماء والإنسولين.",
            ),
            "uk": (
                "{when} конвой із борошном та ліками для громади {place} зупинили на блокпосту й "
                "розвернули назад. Мешканці повідомляють про нестачу їжі та води.",
            ),
        },
    ),
)

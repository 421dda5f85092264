// The built-in English word list for generated WordPiece vocabularies: the words of the RAG demo's topics
// first, then common English words in rough frequency order. Lowercase; duplicates are dropped by the caller.

/** Topic words of the demo corpus (passwords, dogs, cats, weasels, AI, cooking, astronomy, finance). */
export const DEMO_WORDS = `
password passwords passphrase passphrases login logins account accounts reset resets resetting username usernames
credential credentials authentication authenticate authenticator factor factors security secure secret secrets
encrypt encrypted encryption decrypt hash hashed hashing salt salted manager managers vault phishing breach
breaches leaked leak strong weak length characters character symbol symbols uppercase lowercase digit digits
recover recovery email verify verification code codes token tokens two-factor mfa 2fa sign signed signing
change changed changing forgot forgotten lock locked unlock expire expired expiry policy policies rotate
dog dogs puppy puppies canine canines hound hounds breed breeds breeding bark barks barking leash kennel
retriever labrador shepherd poodle terrier beagle bulldog collie husky wolf wolves fox foxes pack fetch
tail tails paw paws fur coat walk walks walking vet veterinarian veterinary vaccine vaccines train trained
training obedience loyal loyalty companion companions pet pets owner owners treat treats bone bones
cat cats kitten kittens feline felines purr purrs purring meow whisker whiskers claw claws litter scratch
scratching tabby siamese persian lion lions tiger tigers leopard cheetah lynx mouse mice hunt hunting hunter
weasel weasels ferret ferrets stoat stoats mink minks otter otters badger badgers polecat marten martens
wolverine mustelid mustelids burrow burrows rodent rodents rabbit rabbits domesticated domestic wild
predator predators prey carnivore carnivores mammal mammals species animal animals nocturnal slender
ai artificial intelligence intelligent machine machines learning learn learned model models neural network
networks language languages natural processing process processes nlp transformer transformers attention
embedding embeddings vector vectors token tokenizer tokenization sentence sentences semantic semantics
retrieval retrieve retrieved rerank reranking reranker ranking rank ranked search query queries passage
passages document documents corpus index indexed chatbot chatbots gpt bert llm llms generate generation
generative prompt prompts inference dataset datasets classifier classification encoder decoder parameter
parameters weights gradient deep algorithm algorithms computer computers speech translation text texts
cook cooking cooked recipe recipes bake baking baked oven boil boiling boiled fry frying fried roast roasted
grill grilled pan pot stove kitchen chef chefs ingredient ingredients flour sugar salt pepper butter oil
olive garlic onion onions tomato tomatoes pasta rice bread egg eggs cheese milk cream sauce soup stew meat
chicken beef pork fish vegetable vegetables fruit fruits spice spices herb herbs dough knife chop minutes
heat temperature simmer stir mix whisk taste flavor flavour delicious meal meals dinner lunch breakfast
astronomy astronomer astronomers star stars planet planets moon moons sun solar galaxy galaxies universe
cosmic cosmos telescope telescopes orbit orbits orbital comet comets asteroid asteroids meteor meteors
nebula supernova black hole holes gravity gravitational light year years mars jupiter saturn venus mercury
neptune uranus pluto earth space spacecraft nasa satellite satellites eclipse constellation constellations
finance financial money bank banks banking loan loans interest rate rates invest investing investment
investments investor investors stock stocks bond bonds market markets fund funds portfolio dividend
click clicks clicked clicking email emails steal stolen failed fail attempt attempts need needs ancestor ancestors
retrievers sleep sleeps sleeping known voice voices group groups weigh weighs score scores scored retrieves pinch bend bends
ellipse ellipses outshine outshines erode erodes secured wag wags sourdough starter feed feeds fed moon have does
dividends inflation budget budgets saving savings debt debts credit tax taxes income profit profits
revenue price prices trading trade capital asset assets equity risk risks return returns retirement
pension insurance mortgage currency currencies dollar dollars euro economy economic economics crypto
`;

/** Common English words, most frequent first (hand-assembled; no external corpus). */
export const COMMON_WORDS = `
its it's into onto been being doing done having has had were was am don isn doesn didn aren wasn weren hasn haven
couldn wouldn shouldn won ve ll re
the of and to a in is it you that he was for on are with as i his they be at one have this from or had by
not word but what some we can out other were all there when up use your how said an each she which do
their time if will way about many then them write would like so these her long make thing see him two has
look more day could go come did number sound no most people my over know water than call first who may
down side been now find any new work part take get place made live where after back little only round man
year came show every good me give our under name very through just form sentence great think say help low
line differ turn cause much mean before move right boy old too same tell does set three want air well also
play small end put home read hand port large spell add even land here must big high such follow act why
ask men change went light kind off need house picture try us again animal point mother world near build
self earth father head stand own page should country found answer school grow study still learn plant
cover food sun four between state keep eye never last let thought city tree cross farm hard start might
story saw far sea draw left late run don't while press close night real life few north open seem together
next white children begin got walk example ease paper group always music those both mark often letter
until mile river car feet care second book carry took science eat room friend began idea fish mountain
stop once base hear horse cut sure watch color face wood main enough plain girl usual young ready above
ever red list though feel talk bird soon body dog family direct pose leave song measure door product black
short numeral class wind question happen complete ship area half rock order fire south problem piece told
knew pass since top whole king space heard best hour better true during hundred five remember step early
hold west ground interest reach fast verb sing listen six table travel less morning ten simple several
vowel toward war lay against pattern slow center love person money serve appear road map rain rule govern
pull cold notice voice unit power town fine certain fly fall lead cry dark machine note wait plan figure
star box noun field rest correct able pound done beauty drive stood contain front teach week final gave
green oh quick develop ocean warm free minute strong special mind behind clear tail produce fact street
inch multiply nothing course stay wheel full force blue object decide surface deep moon island foot system
busy test record boat common gold possible plane stead dry wonder laugh thousand ago ran check game shape
equate hot miss brought heat snow tire bring yes distant fill east paint among grand ball yet wave drop
heart am present heavy dance engine position arm wide sail material size vary settle speak weight general
ice matter circle pair include divide syllable felt perhaps pick sudden count square reason length
represent art subject region energy hunt probable bed brother egg ride cell believe fraction forest sit
race window store summer train sleep prove lone leg exercise wall catch mount wish sky board joy winter sat
written wild instrument kept glass grass cow job edge sign visit past soft fun bright gas weather month
million bear finish happy hope flower clothe strange gone jump baby eight village meet root buy raise
solve metal whether push seven paragraph third shall held hair describe cook floor either result burn hill
safe cat century consider type law bit coast copy phrase silent tall sand soil roll temperature finger
industry value fight lie beat excite natural view sense ear else quite broke case middle kill son lake
moment scale loud spring observe child straight consonant nation dictionary milk speed method organ pay
age section dress cloud surprise quiet stone tiny climb cool design poor lot experiment bottom key iron
single stick flat twenty skin smile crease hole trade melody trip office receive row mouth exact symbol
die least trouble shout except wrote seed tone join suggest clean break lady yard rise bad blow oil blood
touch grew cent mix team wire cost lost brown wear garden equal sent choose fell fit flow fair bank
collect save control decimal gentle woman captain practice separate difficult doctor please protect noon
whose locate ring character insect caught period indicate radio spoke atom human history effect electric
expect crop modern element hit student corner party supply bone rail imagine provide agree thus capital
won't chair danger fruit rich thick soldier process operate guess necessary sharp wing create neighbor
wash bat rather crowd corn compare poem string bell depend meat rub tube famous dollar stream fear sight
thin triangle planet hurry chief colony clock mine tie enter major fresh search send yellow gun allow print
dead spot desert suit current lift rose continue block chart hat sell success company subtract event
particular deal swim term opposite wife shoe shoulder spread arrange camp invent cotton born determine
quart nine truck noise level chance gather shop stretch throw shine property column molecule select wrong
gray repeat require broad prepare salt nose plural anger claim continent oxygen sugar death pretty skill
women season solution magnet silver thank branch match suffix especially fig afraid huge sister steel
discuss forward similar guide experience score apple bought led pitch coat mass card band rope slip win
dream evening condition feed tool total basic smell valley nor double seat arrive master track parent shore
division sheet substance favor connect post spend chord fat glad original share station dad bread charge
proper bar offer segment slave duck instant market degree populate chick dear enemy reply drink occur
support speech nature range steam motion path liquid log meant quotient teeth shell neck
government business information company system program question government service problem national
development report research community university international important american social political
economic public health education local federal private military security financial medical economic
account activity administration agency amount analysis application approach article authority available
average benefit budget building campaign candidate career challenge character choice citizen club
collection commission committee communication computer concern conference congress consumer contract
court culture customer data decision defense democratic department description detail difference director
discussion disease doctor economy effort election employee environment evidence executive expert face
factor failure feature film fund future goal growth hospital image impact improvement income individual
industry institution investment issue knowledge language leader leadership legal loss management manager
material media meeting member memory message movement network officer official operation opportunity
organization owner participant patient performance period perspective physical policy population position
practice pressure president price production professional project purpose quality rate reality relationship
religion resource response responsibility role science season sector series situation society source
speaker staff standard strategy structure student style success technology television theory thing
threat tradition training treatment trial truth understanding version victim violence vision voter
weapon website window worker writer about above across actually after again against almost already although
always among another anyone anything around away because before behind below beside besides beyond
certainly clearly despite easily either enough especially everyone everything finally generally however
indeed instead less likely maybe meanwhile nearly nobody nothing often otherwise perhaps quickly rather
really recently simply since somebody someone something sometimes somewhere soon still suddenly therefore
though through throughout today together tomorrow toward towards unless upon usually whatever whenever
wherever whether within without yesterday yet accept achieve add admit affect afford agree aim allow
announce apply appreciate argue arise arrive attack attempt attend avoid become behave belong borrow
breathe bury calculate cancel carry celebrate claim collapse combine commit compete complain concentrate
conclude confirm consist construct consume contact continue contribute convert convince cope correct
cross damage deliver demand deny depend deserve destroy detect develop disappear discover dismiss display
distribute divide dominate doubt earn eliminate emerge emphasize enable encourage engage enhance ensure
establish estimate evaluate examine exist expand explain explore express extend fail focus forget forgive
gain generate handle hate identify ignore illustrate implement imply impose improve include increase
indicate influence inform insist install intend introduce invest investigate involve judge justify launch
limit link maintain manage measure mention monitor negotiate obtain occupy offer oppose organize owe
perform permit persuade possess predict prefer prevent proceed promise promote propose protect publish
pursue react realize recognize recommend reduce refer reflect refuse regard reject relate release rely
remain remove replace request require rescue resist resolve respond restore retain reveal review reward
satisfy secure seek seize shift signal solve specify spin split stress struggle submit succeed suffer
suppose surround survive suspect sustain switch tend threaten tolerate transform translate transport
undergo undertake urge vote wander warn withdraw worry wrap yield ability absence academic acceptable
accident accurate active actual additional adult advanced advantage adventure advice afternoon agent
airport alcohol alternative ambition ancient angle angry annual anxiety apart apartment apparent
appearance appropriate approval arrival artist aspect assessment assistance assistant association
assumption atmosphere attitude attractive audience author automatic awareness background balance
basis bathroom battle beach bedroom beginning behavior belief birth birthday blank blind bloody bone
bonus border boss bottle brain brand brave breakfast brick bridge brief brilliant broken budget bus
butter button cable cake calm camera cancer capacity carbon card career careful cash cause ceiling
chain champion channel chapter chemical chicken childhood chocolate church cigarette circumstance
civil classic climate clinic coach coffee cognitive collapse college combination comfort comment
commercial commitment comparison competition complex component computer concept conclusion concrete
confidence conflict confusion connection conscious consequence conservative constant context contrast
conversation cookie copy core corporate council count county couple courage cousin creative credit
crew crime criminal crisis critical criticism crucial cultural cup curious customer cycle daily
damage database daughter dead debate decade decline deep defeat definition delay delivery demand
democracy deposit depression depth desk destruction device diet difficulty digital dimension dinner
direction dirty disaster discipline discount distance district diversity document domain dozen draft
drama drawing driver drug dust duty eager earnings economics edition editor educational efficient
elderly electricity elegant elsewhere emotion emotional emphasis employer employment empty encounter
engineer engineering entertainment enthusiasm entire entrance entry episode equipment error escape
essay essential estate ethnic evaluation exam examination excellent exchange excitement exciting
exhibition existence expansion expectation expense expensive explanation explosion exposure extension
extent extreme fabric facility faith false fan fantasy fashion fault fee female fiction figure
finding firm flight flood fluid folk football foreign formal formula fortune foundation frame
framework freedom frequency friendly frozen fuel function funeral furniture gallery gap garage gate
gender gene generation genetic gift glance global grade graduate grain grant graph grocery guarantee
guest guilty habit hall handle hardware harm headline heaven height helpful hero hidden highway hint
historian historical holiday honest honey honor horror host household housing humor hunger ideal
identity illness immediate immigrant incident independence independent index infant infection
inflation initial injury innocent input inquiry insight inspector instance institute instruction
insurance intellectual intense intention interaction internal internet interpretation interview
introduction invention investigation investor invitation island item jacket joint journal journalist
journey judgment juice junior justice keyboard kitchen knife label laboratory ladder landscape laptop
lawyer layer lecture legend lesson level liberal library license lifestyle limitation literature
loan location logic lovely loyal luck luxury magazine mail mainly maintenance majority male manner
manufacturer margin marketing marriage massive master math maximum meal meaning mechanism medicine
membership mental menu mess metal middle midnight milk minimum minister minor mirror mission mistake
mixture mobile mode moral motor mountain mouse movie muscle museum mystery narrative narrow native
negative neighborhood nerve nervous newspaper normal novel nurse nutrition objective obligation
observation obvious occasion odd offense ongoing online opening opinion opponent opposition option
orange ordinary organic origin outcome output outside overall package pain painting panel parking
partner passenger passion patience pattern payment peace penalty pension percentage perfect permanent
permission personality phase philosophy phone photo photograph phrase pilot pipe pitch platform player
pleasant pleasure plenty pocket poetry poet police pool popular portion portrait positive possession
possibility potato potential poverty powerful practical prayer precious preference pregnant premium
preparation presence presentation presidential prevention previous pride priest primary prince
principal principle printer priority prison privacy prize procedure profession profile profit
progress prominent proof proportion proposal prospect protection protein protest proud psychology
pub publication pure qualified quantity quarter queen quote racing radical random rapid rare rating
raw reaction reader reading realistic receipt recipe recording recovery reduction reference reform
refrigerator regime regional register regular regulation relative relief religious remote rent repair
replacement reporter representative republic reputation requirement reservation resident resistance
resolution respect restaurant retirement revenue revolution rhythm rice rival romantic route routine
royal rural sad safety salad salary sample satellite scandal scenario scene schedule scheme scholar
scientist screen script sculpture secretary secret section segment selection senior sensitive sentence
sequence session setting settlement severe sexual shadow shame shelter shift shirt shock shortage
shower signature significant silence silly sink slice slight smart smoke snake soccer soldier
solid sophisticated soul soup spare speaker specialist species specific spirit sponsor sport spot
stable stadium stage stake statement statistics status steady stomach storage strategic strength
stress strict strike structure studio stuff stupid submission substantial suburb succeed suggestion
suitable sum supermarket supporter surgery survey survival suspect sweet symptom sympathy talent tank
target task taste teaching teacher technical technique teenager telephone temporary tennis tension
tent terrible territory terror testimony text theater theme therapy thesis thin thinking threat
ticket tight timing tired title tongue topic tough tour tourist tournament tower toy track traffic
tragedy transfer transition transportation trend tribe trick troop tropical trust tune tunnel typical
ugly ultimate uncle unique universe unusual update upper urban usage useful user vacation valuable
variable variation variety vast vegetable vehicle venture version vessel veteran video view village
violent virtual virus visible visitor visual vital volume volunteer wage walking wealth wedding
weekend welfare western wheel wine wing winner wisdom witness wonderful wooden worth wound writing
yard youth zone able absolutely abroad abuse academy accompany accomplish accord accuse acid acquire
actor actress adapt addition adequate adjust administrator admire adopt advertising advocate aide
aircraft alive alliance ally alter amazing analyst analyze angel anniversary anybody apparently appeal
architect architecture arena arrangement arrest aside assault assert assess asset assign assist assume
assure athlete attach attract bake barely barrel basket bathroom beam bean beer beneath bet bike bill
biology bite blade blame blanket blast bless boot bowl boyfriend brush buck bullet burden butt buyer
cabin cabinet candle cap carpet cattle celebration cell chamber characteristic charity cheap cheese
chemistry chest chicken chip chop circuit cite cloth clothes clothing cluster coalition cocktail collar
colleague comedy commander commissioner compose compound comprehensive compromise conduct confront
congressional consensus consultant contemporary contest controversial controversy convention
conviction cook cooking corporation correspondent cotton counselor counter courtroom cover crack craft
crash crazy cream creation creature crowd cry cure dance dancer dare darkness dawn deadline dear debt
deck declare deficit deliberately demonstrate dense departure depict deputy derive designer desire
dessert detective diamond dig dinner diplomat disability disagree discourse dish disorder distinct
distinguish diverse divorce dna dough drag dramatic drift drill drinking drunk dumb earthquake
educator egg elbow elect electronic elite embrace emergency emission empire enormous entity envelope
equation era essentially ethics evil exact exhibit exit exotic explicit export fabulous faculty
fairly fame fancy farmer fat fatigue favorite feather federal fence festival fever fiber fifteen
fifty fighter filter fisherman fitness flag flame flavor flesh flour fly fog folk fool forever fork
founder fraud fruit fur galaxy gang garlic gaze gear genius gentleman ghost giant girlfriend glove
goat golf gospel governor grab grandfather grandmother grave gravity greatest grief gym habitat
hallway harvest hay headquarters healthy hearing heel helicopter hell helmet herb heritage hip hire
hockey holy honestly hook horizon hormone horse hunting hunter husband hypothesis ice icon illegal
implication incentive index infrastructure ingredient inner innovation insect inspire instruction
intelligence interior invasion jail jaw jazz jet jew joke jury kick kid kiss knee lamp lap laser
lawsuit leaf league lean leather lemon liberty lid lip liver lobby lock locate loose lover lung
magic magnetic mainstream makeup mall manufacturing marine mask mathematics mayor meat medal melt
merchant mere meter microphone military minority miracle missile mom monkey monster mood mortgage
mud mushroom musician myth naked nail nasty neat necessarily nest neutral nightmare noble nod norm
nowhere nuclear nut oak obesity occasionally ocean offensive officially oil olive onion orbit orchestra
organism outfit oven overcome owl oxygen pace pad palace palm pan pants parade pasta patrol pause
peak peanut peer pen pencil pepper perceive pet physician piano pie pig pile pillow pine pink planet
plastic plate plot poll pond pop pork porch pot pour prairie predator pregnancy pressure printing
prisoner probe producer profound programming prosecutor pump punch puppy purple puzzle quarterback
rabbit rack rage rail rainbow ranch rat ray rebel recipe rescue researcher reservoir retreat rib
ribbon ridge rifle riot ritual robot rocket rod roof rope rub rug sack sacred saint salmon sauce
sausage scared scent scratch sea seal seat seed sensor servant shark sheep shelf shelter shield
shrimp sibling sidewalk silk sin sixty skull sleeve slope snap soap sock sofa soil solar sole
spatial spell spider spine spoon stair stake steak stem stir stove straw strawberry stroke sugar
suicide sunlight surgeon swing sword tackle tail tale tap tea tear teaspoon telescope tender terrain
thigh thread thumb tide tile timber tobacco toe toilet tomato tone tooth torture towel trail
tray treasure trunk tube turkey twin umbrella underwear unemployment uniform vaccine valley vanilla
vegetarian verb vest villa vinegar virgin vitamin vocal volcano wagon wallet warrior wave weed whale
wheat whip whisper wilderness wire wolf worm wrist yacht yell zoo
`;
